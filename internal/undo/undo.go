// Package undo is the one rollback of every multi-step change l3dsr makes:
// each step that changed the system pushes how to take itself back, and a
// change that fails half-way undoes them, last first, so that nothing is
// left half-applied, or says exactly what was.
package undo

import (
	"errors"
	"fmt"
	"strings"
)

// ErrLeftInPlace is matched (errors.Is) by the error of a change that
// failed and could not undo everything it had done.
var ErrLeftInPlace = errors.New("a failed change could not be undone completely")

// LeftError names what a rollback left in place, and why.
type LeftError struct {
	Left []string // "what (undo failed: why)", last change first
}

func (e *LeftError) Error() string {
	return "left in place: " + strings.Join(e.Left, "; ")
}

// Is makes a LeftError match ErrLeftInPlace.
func (e *LeftError) Is(target error) bool { return target == ErrLeftInPlace }

// Stack records the changes of one multi-step operation. The zero value is
// ready to use.
type Stack struct {
	steps []step
}

type step struct {
	what string
	fn   func() error // nil: the change cannot be undone
}

// Push records a change and how to undo it; fn nil means it cannot be.
func (s *Stack) Push(what string, fn func() error) {
	s.steps = append(s.steps, step{what, fn})
}

// Changes lists what was recorded, first change first.
func (s *Stack) Changes() []string {
	w := make([]string, len(s.steps))
	for i, st := range s.steps {
		w[i] = st.what
	}
	return w
}

// Len is the number of changes recorded.
func (s *Stack) Len() int { return len(s.steps) }

// Rollback undoes every change, last first, and empties the stack. It
// returns nil when all were undone, else a *LeftError.
func (s *Stack) Rollback() error {
	var left []string
	for i := len(s.steps) - 1; i >= 0; i-- {
		st := s.steps[i]
		if st.fn == nil {
			left = append(left, st.what+" (cannot be undone)")
			continue
		}
		if err := st.fn(); err != nil {
			left = append(left, fmt.Sprintf("%s (undo failed: %v)", st.what, err))
		}
	}
	s.steps = nil
	if len(left) == 0 {
		return nil
	}
	return &LeftError{Left: left}
}

// Fail rolls back after err and returns err with what was undone, or
// joined with the *LeftError when something was left in place.
func (s *Stack) Fail(err error) error {
	if len(s.steps) == 0 {
		return err
	}
	done := s.Changes()
	if lerr := s.Rollback(); lerr != nil {
		return errors.Join(err, lerr)
	}
	return fmt.Errorf("%w (undone: %s)", err, strings.Join(done, "; "))
}
