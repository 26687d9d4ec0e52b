package config

import (
	"fmt"
	"strings"
)

// Pos is where something was written: a file and a line (1-based).
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("line %d", p.Line)
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is one problem found in a file.
type Error struct {
	pos Pos
	Msg string
}

func (e Error) Error() string { return e.pos.String() + ": " + e.Msg }

// Errors is every problem found in a file; a file with any of them is refused
// whole. Callers tell it from a runtime failure with errors.As.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}
