// Package nl is the generic netlink plumbing that maptable and
// internal/ipvs share: one connection (a family resolved by name, in a
// network namespace, and its requests) and one type for the kernel's
// refusals. Each caller keeps its own words for them.
package nl

import (
	"errors"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// KernelError is a request the kernel refused: its errno and, when it gave
// them, its extended-ack message and the offset of the bad attribute. It
// unwraps to the netlink error, and so to the errno (errors.Is(err,
// unix.EINVAL)).
type KernelError struct {
	Errno unix.Errno
	// Message is the kernel's extended-ack message, if any.
	Message string
	// Offset is the extended-ack offset of the bad attribute in the
	// request, counted from its netlink header; 0 if none.
	Offset int
	// Text, if set, says what the errno means for the request, in place
	// of the errno's own text.
	Text string
	// Kind, if set, is matched by the error (errors.Is): a package's
	// ErrNotFound or ErrExists.
	Kind  error
	cause error
}

// Error is the errno's text (or Text), after the kernel's message if it
// gave one.
func (e *KernelError) Error() string {
	if e.Message != "" {
		return e.Message + " (" + e.Says() + ")"
	}
	return e.Says()
}

// Says is Text, or the errno's text.
func (e *KernelError) Says() string {
	if e.Text != "" {
		return e.Text
	}
	return e.Errno.Error()
}

// Unwrap returns the netlink error the errno came in.
func (e *KernelError) Unwrap() error { return e.cause }

// Is matches Kind.
func (e *KernelError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Kernel returns the kernel's refusal err carries, or nil if it carries no
// errno (the request failed before the kernel answered).
func Kernel(err error) *KernelError {
	var oe *netlink.OpError
	var errno unix.Errno
	if !errors.As(err, &oe) || !errors.As(oe.Err, &errno) {
		return nil
	}
	ke := &KernelError{Errno: errno, cause: err}
	// The extended ack may sit in an inner OpError.
	for e := error(oe); e != nil; e = errors.Unwrap(e) {
		if o, ok := e.(*netlink.OpError); ok && (o.Message != "" || o.Offset != 0) {
			ke.Message, ke.Offset = o.Message, o.Offset
			break
		}
	}
	return ke
}
