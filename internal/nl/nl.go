// Package nl is the generic netlink plumbing that maptable and
// internal/ipvs share: one dial (a family resolved by name, in a network
// namespace) and one type for the kernel's refusals. Each caller keeps its
// own words for them.
package nl

import (
	"errors"
	"fmt"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dial opens a generic netlink socket in the network namespace netns
// refers to (an open namespace file descriptor; 0 is the calling thread's)
// and resolves the family name. A family the kernel does not have is an
// error matching unix.ENOENT.
func Dial(name string, netns int) (*genetlink.Conn, genetlink.Family, error) {
	// Strict turns on extended acks, so the kernel's message for a
	// rejected request reaches the error. NETLINK_CAP_ACK stays off:
	// mdlayher/netlink cannot find the extended-ack attributes in a capped
	// error message.
	conn, err := genetlink.Dial(&netlink.Config{NetNS: netns, Strict: true})
	if err != nil {
		return nil, genetlink.Family{}, fmt.Errorf("opening a generic netlink socket: %w", err)
	}
	f, err := Resolve(conn, name)
	if err != nil {
		conn.Close()
		return nil, genetlink.Family{}, err
	}
	return conn, f, nil
}

// Resolve resolves the family name on an open connection.
func Resolve(conn *genetlink.Conn, name string) (genetlink.Family, error) {
	f, err := conn.GetFamily(name)
	if err != nil {
		return f, fmt.Errorf("resolving the generic netlink family %q: %w", name, err)
	}
	return f, nil
}

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
