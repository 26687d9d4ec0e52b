// Package errclass is the one error type behind the packages' "class"
// errors: a message of its own that says what is wrong and how to fix it,
// matched (errors.Is) by a sentinel that says what kind of failure it is
// (an invalid value, a conflict, ...), so that callers branch on the kind
// and print the message. (dsrtypes, which imports nothing of ours, keeps a
// copy of it for its ErrInvalid.)
package errclass

import "fmt"

type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string        { return e.msg }
func (e *classError) Is(target error) bool { return target == e.class }

// New is an error whose text is format and a formatted as fmt.Sprintf
// does, and that matches class (and nothing it wraps: class's own text is
// not part of the message).
func New(class error, format string, a ...any) error {
	return &classError{fmt.Sprintf(format, a...), class}
}
