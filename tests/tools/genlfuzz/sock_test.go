package main

import (
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The exchange against the host kernel's own generic netlink controller
// (nlctrl, id 0x10, on every Linux): the module is not loadable on the
// host, but the barrier, the dumps and the errors are generic netlink's.
func nlctrl(t *testing.T) *sock {
	t.Helper()
	s, err := openSock(0x10, 5*time.Second)
	if err != nil {
		t.Skipf("no netlink here: %v", err)
	}
	s.decode = func(b []byte) (reply, error) { return reply{cmd: b[0]}, nil }
	t.Cleanup(func() { s.close() })
	return s
}

func TestExchangeDump(t *testing.T) {
	s := nlctrl(t)
	// CTRL_CMD_GETFAMILY (3), dumped: one reply per family, in several parts.
	a, err := s.exchange(Request{Flags: flagRequest | flagDump, Body: genlHeader(3, 1)})
	if err != nil || a.errno != 0 {
		t.Fatalf("dump: %v errno %v", err, a.errno)
	}
	if len(a.replies) < 3 {
		t.Errorf("dump: %d replies, want one per family (at least nlctrl, VFS_DQUOT, ...)", len(a.replies))
	}
	// The socket is clean after it: the next exchange sees only its own.
	if _, err := s.exchange(Request{Flags: flagRequest | flagAck, Body: genlHeader(3, 1)}); err != nil {
		t.Fatalf("after the dump: %v", err)
	}
}

func TestExchangeErrorsAndSilence(t *testing.T) {
	s := nlctrl(t)
	// An unknown command: EOPNOTSUPP, with or without NLM_F_ACK.
	for _, f := range []uint16{flagRequest, flagRequest | flagAck} {
		a, err := s.exchange(Request{Flags: f, Body: genlHeader(0xee, 1)})
		if err != nil || a.errno != unix.EOPNOTSUPP {
			t.Errorf("flags %#x: %v errno %v, want EOPNOTSUPP", f, err, a.errno)
		}
	}
	// No NLM_F_REQUEST: the kernel ignores it and answers nothing, which
	// the barrier tells from a hang.
	a, err := s.exchange(Request{Flags: 0, Body: genlHeader(3, 1)})
	if err != nil || a.errno != 0 || a.acked || len(a.replies) != 0 {
		t.Errorf("no NLM_F_REQUEST: %v %+v, want silence", err, a)
	}
	// A truncated generic netlink header: EINVAL.
	if a, err := s.exchange(Request{Flags: flagRequest | flagAck, Body: []byte{3}}); err != nil || a.errno != unix.EINVAL {
		t.Errorf("truncated header: %v errno %v, want EINVAL", err, a.errno)
	}
}

// A socket that answers nothing is a hang, not a wait forever.
func TestRecvTimesOut(t *testing.T) {
	s, err := openSock(0x10, 200*time.Millisecond)
	if err != nil {
		t.Skip(err)
	}
	defer s.close()
	start := time.Now()
	if _, err := s.recv(make([]byte, 100)); !errors.Is(err, errHang) || time.Since(start) > 2*time.Second {
		t.Errorf("recv on a silent socket: %v after %v, want errHang after 200ms", err, time.Since(start))
	}
}

// Many sockets at once, dumps and errors mixed, with the runtime's
// preemption signals landing in the waits: no exchange fails.
func TestExchangeConcurrent(t *testing.T) {
	nlctrl(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := openSock(0x10, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer s.close()
			s.decode = func(b []byte) (reply, error) { return reply{}, nil }
			for i := range 300 {
				r := Request{Flags: flagRequest | flagDump, Body: genlHeader(3, 1)}
				if i%2 == 1 {
					r = Request{Flags: flagRequest, Body: genlHeader(0xee, 1)}
				}
				if _, err := s.exchange(r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
