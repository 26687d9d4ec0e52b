package director

import (
	"errors"
	"fmt"
	"strings"
)

// undoStack records how to take back each step of one change, so that a
// change that fails half-way leaves the system as it found it.
type undoStack struct {
	steps []undoStep
}

type undoStep struct {
	what string
	fn   func() error
}

func (u *undoStack) push(what string, fn func() error) {
	u.steps = append(u.steps, undoStep{what, fn})
}

// rollback undoes the steps, last first, and returns err annotated with what
// could not be undone, if anything.
func (u *undoStack) rollback(err error) error {
	var left []string
	for i := len(u.steps) - 1; i >= 0; i-- {
		if uerr := u.steps[i].fn(); uerr != nil {
			left = append(left, fmt.Sprintf("%s: %v", u.steps[i].what, uerr))
		}
	}
	u.steps = nil
	if len(left) == 0 {
		return err
	}
	return errors.Join(err, fmt.Errorf("rolling back failed, this was left in place: %s", strings.Join(left, "; ")))
}
