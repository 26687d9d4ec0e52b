// Package dsrtypes holds the values every part of l3dsr speaks in: a DSCP
// code, an address family, a mode, a protocol, a VIP and a VIP:port. Each
// has one parser, used alike by the CLI's flags (every type is a
// pflag.Value), the config file and the packages, so that the same bad value
// is refused everywhere with the same message, naming the value and the fix.
package dsrtypes

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every parse error of this package.
var ErrInvalid = errors.New("invalid value")

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, a ...any) error {
	return &invalidError{fmt.Sprintf(format, a...)}
}

// set is the Set of every pflag.Value here: dst changes only when s parses.
func set[T any](dst *T, parse func(string) (T, error), s string) error {
	v, err := parse(s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
