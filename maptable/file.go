package maptable

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// A FileError is a table file that is not named, cannot be read, or whose
// content is no table: the input of whoever named the file (rule replace
// -f), to fix. Error says why, or names the file (or standard input), the
// entry's line and index, the bad value and the fix.
type FileError struct{ msg string }

func (e *FileError) Error() string { return e.msg }

// fix ends the message of a file that is not named or cannot be read.
const fix = "give the JSON file of the new table, or - for standard input"

// ReadFile reads a table's JSON (the format readTable reads) from the file
// name, or from stdin when name is "-". A failure to read stdin is not a
// FileError: nobody named a wrong file.
func ReadFile(name string, stdin io.Reader) ([]Entry, error) {
	var data []byte
	var err error
	if name != "-" && strings.TrimSpace(name) == "" {
		return nil, &FileError{"-f is empty: " + fix}
	}
	if name == "-" {
		if data, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("reading the table from standard input: %w", err)
		}
		name = "standard input"
	} else if data, err = os.ReadFile(name); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &FileError{fmt.Sprintf("-f %s: cannot read it (%v): %s", name, err, fix)}
	}
	entries, err := readTable(bytes.NewReader(data))
	var te *tableError
	if errors.As(err, &te) {
		return nil, &FileError{te.in(name)}
	}
	return entries, err
}
