package realserver

import "github.com/l3dsr/l3dsr/internal/undo"

// txn collects what a call changed, for Applied, and how to undo each
// change, so that a failed Up leaves the system as it found it.
type txn struct {
	changes []string
	undo    undo.Stack
}

// did records a change and how to undo it (nil: nothing to undo, as for a
// repair of what was there).
func (t *txn) did(what string, fn func() error) {
	t.changes = append(t.changes, what)
	if fn != nil {
		t.undo.Push(what, fn)
	}
}

// fail undoes every change, last first, and returns err with what was
// undone or, if undoing failed, with the undo.LeftError of what was left in
// place (matching undo.ErrLeftInPlace).
func (t *txn) fail(err error) error { return t.undo.Fail(err) }
