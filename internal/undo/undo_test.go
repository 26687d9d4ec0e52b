package undo

import (
	"errors"
	"strings"
	"testing"
)

func TestRollbackOrderAndLeft(t *testing.T) {
	var s Stack
	var order []string
	s.Push("a", func() error { order = append(order, "a"); return nil })
	s.Push("b", func() error { order = append(order, "b"); return errors.New("busy") })
	s.Push("c", nil)
	s.Push("d", func() error { order = append(order, "d"); return nil })
	err := s.Fail(errors.New("step e failed"))
	if got := strings.Join(order, ","); got != "d,b,a" {
		t.Errorf("undo order %s, want d,b,a", got)
	}
	if !errors.Is(err, ErrLeftInPlace) {
		t.Errorf("%v does not match ErrLeftInPlace", err)
	}
	want := "step e failed\nleft in place: c (cannot be undone); b (undo failed: busy)"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if s.Len() != 0 {
		t.Errorf("stack not emptied: %d", s.Len())
	}
}

func TestFailAllUndone(t *testing.T) {
	var s Stack
	if err := s.Fail(errors.New("x")); err.Error() != "x" {
		t.Errorf("empty stack: %v", err)
	}
	s.Push("add VIP", func() error { return nil })
	s.Push("add rule", func() error { return nil })
	err := s.Fail(errors.New("add entry: exists"))
	if err.Error() != "add entry: exists (undone: add VIP; add rule)" || errors.Is(err, ErrLeftInPlace) {
		t.Errorf("error %q", err)
	}
}
