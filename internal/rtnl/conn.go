// Package rtnl is the small part of rtnetlink (NETLINK_ROUTE) that l3dsr
// needs on a real server: look up and bring up links, create the tunnel
// fallback devices, and list, add and delete addresses. It speaks netlink
// directly (mdlayher/netlink), in the network namespace of the calling
// thread or of a given namespace file descriptor, and never runs ip(8).
// The package never prints.
package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrExists is matched (errors.Is) by the error of a create that found the
// object already there (the kernel's EEXIST).
var ErrExists = errors.New("already exists")

// ErrNotFound is matched (errors.Is) by the error of an operation on a link
// or an address that does not exist (ENODEV, ENOENT, EADDRNOTAVAIL).
var ErrNotFound = errors.New("not found")

// Conn is an rtnetlink socket. It is not safe for concurrent use.
type Conn struct {
	c *netlink.Conn
}

// Dial opens an rtnetlink socket in the calling thread's network namespace,
// or in the one netns (an open namespace file descriptor) refers to when it
// is not 0.
func Dial(netns int) (*Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns, Strict: true})
	if err != nil {
		return nil, fmt.Errorf("opening an rtnetlink socket: %w", err)
	}
	return &Conn{c: c}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

func (c *Conn) execute(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) ([]netlink.Message, error) {
	msgs, err := c.c.Execute(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: flags},
		Data:   data,
	})
	return msgs, mapErr(err)
}

// dump sends the dump request typ with data and parses every answer of type
// answer; the first that does not parse is the error.
func dump[T any](c *Conn, typ netlink.HeaderType, data []byte, answer netlink.HeaderType, parse func([]byte) (T, error)) ([]T, error) {
	msgs, err := c.execute(typ, netlink.Request|netlink.Dump, data)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, m := range msgs {
		if m.Header.Type != answer {
			continue
		}
		v, err := parse(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// kernelError keeps the errno (for errors.Is with unix.E*) and the
// kernel's extended-ack text, and maps the errnos callers act on to
// ErrExists and ErrNotFound.
type kernelError struct {
	err   error
	errno unix.Errno
	msg   string
}

func (e *kernelError) Error() string {
	if e.msg != "" {
		return fmt.Sprintf("%v (kernel: %s)", e.errno, e.msg)
	}
	return e.errno.Error()
}

func (e *kernelError) Unwrap() error { return e.err }

func (e *kernelError) Is(target error) bool {
	switch target {
	case ErrExists:
		return e.errno == unix.EEXIST
	case ErrNotFound:
		return e.errno == unix.ENODEV || e.errno == unix.ENOENT || e.errno == unix.EADDRNOTAVAIL
	}
	return false
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var oe *netlink.OpError
	var errno unix.Errno
	if errors.As(err, &errno) {
		ke := &kernelError{err: err, errno: errno}
		if errors.As(err, &oe) {
			ke.msg = oe.Message
		}
		return ke
	}
	return err
}

// nativeEndian is the byte order of the fixed-size rtnetlink headers.
var nativeEndian = binary.NativeEndian
