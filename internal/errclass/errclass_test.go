package errclass

import (
	"errors"
	"testing"
)

func TestNew(t *testing.T) {
	class, other := errors.New("invalid value"), errors.New("conflict")
	err := New(class, "DSCP %d is out of range: give 0-63", 64)
	if err.Error() != "DSCP 64 is out of range: give 0-63" {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, class) || errors.Is(err, other) {
		t.Errorf("errors.Is: want a match with its class alone")
	}
}
