package nl

import (
	"errors"
	"fmt"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Conn is a generic netlink socket with one family resolved, speaking one
// version of it. It is not safe for concurrent use.
type Conn struct {
	c       *genetlink.Conn
	family  genetlink.Family
	version uint8
}

// Dial opens a generic netlink socket in the network namespace netns
// refers to (an open namespace file descriptor; 0 is the calling thread's)
// and resolves the family name (see Open).
func Dial(name string, version uint8, netns int, absent error) (*Conn, error) {
	// Strict turns on extended acks, so the kernel's message for a
	// rejected request reaches the error. NETLINK_CAP_ACK stays off:
	// mdlayher/netlink cannot find the extended-ack attributes in a capped
	// error message.
	conn, err := genetlink.Dial(&netlink.Config{NetNS: netns, Strict: true})
	if err != nil {
		return nil, fmt.Errorf("opening a generic netlink socket: %w", err)
	}
	c, err := Open(conn, name, version, absent)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Open resolves the family name on an open connection. A family the kernel
// does not have is an error that reads as absent and matches it
// (errors.Is), and the kernel's unix.ENOENT.
func Open(conn *genetlink.Conn, name string, version uint8, absent error) (*Conn, error) {
	f, err := conn.GetFamily(name)
	if err != nil {
		err = fmt.Errorf("resolving the generic netlink family %q: %w", name, err)
		if errors.Is(err, unix.ENOENT) {
			return nil, &absentError{absent: absent, cause: err}
		}
		return nil, err
	}
	return &Conn{c: conn, family: f, version: version}, nil
}

type absentError struct{ absent, cause error }

func (e *absentError) Error() string        { return e.absent.Error() }
func (e *absentError) Unwrap() error        { return e.cause }
func (e *absentError) Is(target error) bool { return target == e.absent }

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// Message is a request of command cmd with the attributes data.
func (c *Conn) Message(cmd uint8, data []byte) genetlink.Message {
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: c.version}, Data: data}
}

// Execute sends one request with the attributes ae (nil: none) and returns
// the replies. A request with netlink.Acknowledge has no replies but the
// acknowledgement, which confirms success: none are returned. Errors are
// netlink's, for the caller to put in its words (Kernel).
func (c *Conn) Execute(cmd uint8, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) ([]genetlink.Message, error) {
	var data []byte
	if ae != nil {
		var err error
		if data, err = ae.Encode(); err != nil {
			return nil, err
		}
	}
	return c.ExecuteMessage(c.Message(cmd, data), flags)
}

// ExecuteMessage is Execute for a message already encoded.
func (c *Conn) ExecuteMessage(msg genetlink.Message, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	msgs, err := c.c.Execute(msg, c.family.ID, flags)
	if err != nil {
		return nil, err
	}
	if flags&netlink.Acknowledge != 0 {
		return nil, nil
	}
	return msgs, nil
}

// Send sends a request without waiting for the replies (a dump whose
// replies the caller reads with Receive).
func (c *Conn) Send(msg genetlink.Message, flags netlink.HeaderFlags) (netlink.Message, error) {
	return c.c.Send(msg, c.family.ID, flags)
}

// Receive reads replies, with their netlink headers.
func (c *Conn) Receive() ([]genetlink.Message, []netlink.Message, error) {
	return c.c.Receive()
}
