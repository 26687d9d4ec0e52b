package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

const (
	nlmsgNoop  = 1 // NLMSG_NOOP
	nlmsgError = 2 // NLMSG_ERROR
	nlmsgDone  = 3 // NLMSG_DONE
	nlHdrLen   = 16
)

// sock is a raw generic netlink socket. mdlayher/netlink would do for the
// valid requests, but its Receive drops the rest of a datagram after an
// error and hides NLMSG_DONE's flags; the fuzzer must see every message.
type sock struct {
	fd     int
	seq    uint32
	family uint16
	// decode decodes the family's messages (decodeReply; another
	// family's in the tests).
	decode func([]byte) (reply, error)
}

// errHang is a request the kernel did not answer within the deadline.
var errHang = errors.New("no answer within the deadline")

// openSock opens a socket in the calling thread's network namespace that
// waits at most timeout for each answer.
func openSock(family uint16, timeout time.Duration) (*sock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("opening a generic netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting the receive timeout: %w", err)
	}
	// Extended acks: the kernel's messages, so that a finding can show them.
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("turning on extended acks: %w", err)
	}
	// Capped acks: an error ack otherwise echoes the whole request, and an
	// oversized one (72 KiB, seen on 6.1) does not fit the receive buffer.
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("turning on capped acks: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the netlink socket: %w", err)
	}
	return &sock{fd: fd, family: family, decode: decodeReply}, nil
}

func (s *sock) close() error { return unix.Close(s.fd) }

// send sends one message of type typ and returns its sequence number.
func (s *sock) send(typ, flags uint16, body []byte) (uint32, error) {
	s.seq++
	b := make([]byte, nlHdrLen, nlHdrLen+len(body))
	binary.NativeEndian.PutUint32(b[0:], uint32(nlHdrLen+len(body)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], s.seq)
	b = append(b, body...)
	err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	for errors.Is(err, unix.EINTR) {
		err = unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	if err != nil {
		return 0, err
	}
	return s.seq, nil
}

// msg is one netlink message received.
type msg struct {
	typ, flags uint16
	seq        uint32
	data       []byte
}

// recv reads one datagram's messages; a datagram that does not split
// into whole messages is an error.
func (s *sock) recv(buf []byte) ([]msg, error) {
	n, _, err := unix.Recvfrom(s.fd, buf, 0)
	// With SO_RCVTIMEO set, a signal (the Go runtime's preemption SIGURG)
	// interrupts the wait despite SA_RESTART.
	for errors.Is(err, unix.EINTR) {
		n, _, err = unix.Recvfrom(s.fd, buf, 0)
	}
	if errors.Is(err, unix.EAGAIN) {
		return nil, errHang
	}
	if err != nil {
		return nil, fmt.Errorf("receiving: %w", err)
	}
	var msgs []msg
	for b := buf[:n]; len(b) > 0; {
		if len(b) < nlHdrLen {
			return nil, fmt.Errorf("a datagram ends in %d bytes, shorter than a netlink header", len(b))
		}
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlHdrLen || l > len(b) {
			return nil, fmt.Errorf("a message says it has %d bytes, of %d left", l, len(b))
		}
		msgs = append(msgs, msg{
			typ:   binary.NativeEndian.Uint16(b[4:]),
			flags: binary.NativeEndian.Uint16(b[6:]),
			seq:   binary.NativeEndian.Uint32(b[8:]),
			data:  b[nlHdrLen:l],
		})
		l = (l + 3) &^ 3
		if l > len(b) {
			l = len(b)
		}
		b = b[l:]
	}
	return msgs, nil
}
