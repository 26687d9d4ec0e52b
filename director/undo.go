package director

import (
	"errors"

	"github.com/l3dsr/l3dsr/internal/undo"
)

// rollback undoes the steps of u, last first, and returns err, joined with
// the undo.LeftError of what could not be undone, if anything.
func rollback(u *undo.Stack, err error) error {
	if lerr := u.Rollback(); lerr != nil {
		return errors.Join(err, lerr)
	}
	return err
}
