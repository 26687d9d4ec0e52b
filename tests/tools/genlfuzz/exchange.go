package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// answer is what the kernel said to one request.
type answer struct {
	errno   unix.Errno // 0: no error
	text    string     // the extended ack's message
	acked   bool
	intr    bool // a dump flagged NLM_F_DUMP_INTR
	replies []reply
}

// link is a socket as the workers use it (a fake in the tests).
type link interface {
	exchange(r Request) (answer, error)
	close() error
}

const flagDumpIntr = 0x10 // NLM_F_DUMP_INTR

// exchange sends r, then a NOOP with NLM_F_ACK as a barrier, and reads
// until the barrier's ack and the end of any dump r started. The kernel
// handles a socket's requests in order, so every answer to r comes before
// the barrier's, except a dump's later parts, which come as they are read.
// Without the barrier a request that rightly gets no answer (no NLM_F_ACK,
// no NLM_F_REQUEST) could not be told from a hang. The error is a finding:
// a hang, a message that does not decode, an answer nobody asked for.
func (s *sock) exchange(r Request) (answer, error) {
	var a answer
	seq, err := s.send(s.family, r.Flags, r.Body)
	if err != nil {
		// Some requests are refused at sendmsg (too big for the socket).
		var en unix.Errno
		if errors.As(err, &en) {
			a.errno = en
			return a, nil
		}
		return a, err
	}
	barrier, err := s.send(nlmsgNoop, flagRequest|flagAck, nil)
	if err != nil {
		return a, fmt.Errorf("sending the barrier: %w", err)
	}
	buf := make([]byte, 1<<16)
	var dumping, done, barrierSeen bool
	for !barrierSeen || (dumping && !done) {
		msgs, err := s.recv(buf)
		if err != nil {
			return a, err
		}
		for _, m := range msgs {
			switch {
			case m.seq == barrier && m.typ == nlmsgError:
				en, _, err := decodeError(m.flags, m.data)
				if err != nil || en != 0 {
					return a, fmt.Errorf("the barrier NOOP got errno %d (%v)", en, err)
				}
				barrierSeen = true
			case m.seq != seq && m.seq < seq && m.typ == nlmsgError && isAck(m):
				// A late ack of an earlier request (a dump's, on kernels that ack
				// dumps after their DONE): harmless.
			case m.seq != seq:
				return a, fmt.Errorf("a message of type %d for sequence %d, not %d or %d", m.typ, m.seq, seq, barrier)
			case m.typ == nlmsgError:
				en, text, err := decodeError(m.flags, m.data)
				if err != nil {
					return a, err
				}
				a.errno, a.text = unix.Errno(en), text
				a.acked = en == 0
				// An ack does not end a dump still running; an error does.
				done = done || en != 0 || !dumping
			case m.typ == nlmsgDone:
				done = true
				a.intr = a.intr || m.flags&flagDumpIntr != 0
				if len(m.data) >= 4 {
					a.errno = unix.Errno(-int32(binary.NativeEndian.Uint32(m.data)))
				}
			case m.typ == s.family:
				rep, err := s.decode(m.data)
				if err != nil {
					return a, err
				}
				a.replies = append(a.replies, rep)
				a.intr = a.intr || m.flags&flagDumpIntr != 0
				dumping = dumping || m.flags&flagMulti != 0
			default:
				return a, fmt.Errorf("a message of type %d", m.typ)
			}
		}
	}
	return a, nil
}

// isAck is an NLMSG_ERROR of errno 0.
func isAck(m msg) bool {
	en, _, err := decodeError(m.flags, m.data)
	return err == nil && en == 0
}
