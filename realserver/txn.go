package realserver

import (
	"errors"
	"fmt"
	"strings"
)

// txn collects what a call changed, and how to undo each change, so that a
// failed Up leaves the system as it found it.
type txn struct {
	changes []string
	undos   []undo
}

type undo struct {
	what string // the change, as in changes
	fn   func() error
}

// did records a change and how to undo it (nil: nothing to undo).
func (t *txn) did(what string, fn func() error) {
	t.changes = append(t.changes, what)
	if fn != nil {
		t.undos = append(t.undos, undo{what, fn})
	}
}

// fail undoes every change, last first, and returns err with what was
// undone or, if undoing failed, exactly what was left in place.
func (t *txn) fail(err error) error {
	if len(t.undos) == 0 {
		return err
	}
	var left []string
	for i := len(t.undos) - 1; i >= 0; i-- {
		u := t.undos[i]
		if uerr := u.fn(); uerr != nil {
			left = append(left, fmt.Sprintf("%s (undo failed: %v)", u.what, uerr))
		}
	}
	if len(left) == 0 {
		return fmt.Errorf("%w (undone: %s)", err, strings.Join(t.what(), "; "))
	}
	return &undoError{err: err, left: left}
}

func (t *txn) what() []string {
	w := make([]string, len(t.undos))
	for i, u := range t.undos {
		w[i] = u.what
	}
	return w
}

// undoError is a failed Up whose undo failed too.
type undoError struct {
	err  error
	left []string
}

func (e *undoError) Error() string {
	return fmt.Sprintf("%v; undoing failed, left in place: %s", e.err, strings.Join(e.left, "; "))
}

func (e *undoError) Unwrap() error { return e.err }

// ErrLeftOver is matched (errors.Is) by the error of an Up that failed and
// could not undo everything it had done.
var ErrLeftOver = errors.New("a failed change could not be undone completely")

func (e *undoError) Is(target error) bool { return target == ErrLeftOver }
