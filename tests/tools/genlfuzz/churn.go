package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// churn creates namespaces and drops them, until the run is over: each
// gets a table of up to 1,500 entries committed, a replace staged and left,
// random requests, and a dump still running when its sockets close (the
// close deletes the namespace, with the staged replace and the dump's
// state to free, while the workers' requests go on in the first one).
func (f *fuzzer) churn(family uint16, timeout time.Duration) {
	r := rand.New(rand.NewPCG(f.seed, 0xc4c4))
	const w = -1 // the churner's findings say worker=-1
	for n := int64(0); !f.over(0); n++ {
		socks, err := socketsInNewNetns(2, family, timeout)
		if err != nil {
			f.finding(w, n, nil, err)
			return
		}
		a, b := socks[0], socks[1]
		f.inNetns(a, r, n)
		// A dump of the big table, read in part; then either left running
		// when the sockets close, or finished after a flush on the other
		// socket: the dump's saved place is an entry the flush freed.
		if seq, err := b.send(family, flagRequest|flagDump, genlHeader(cmdMapGet, genlVersion)); err == nil {
			if r.IntN(2) == 0 {
				// A small buffer: the kernel sizes the dump's parts by it, and
				// the part read is cut short.
				unix.Recvfrom(b.fd, make([]byte, 4096), 0)
			} else if msgs, err := b.recv(make([]byte, 1<<16)); err != nil {
				f.finding(w, n, nil, fmt.Errorf("the first part of a dump in a churned namespace: %w", err))
			} else if !slices.ContainsFunc(msgs, func(m msg) bool { return m.typ == nlmsgDone || m.typ == nlmsgError }) {
				a.exchange(Request{Flags: flagRequest | flagAck, Body: append(genlHeader(cmdMapFlush, genlVersion), attr(attrFamily, u8(2))...)})
				if err := b.finishDump(seq); err != nil {
					f.finding(w, n, nil, fmt.Errorf("a dump across a flush in a churned namespace: %w", err))
				}
			}
		}
		if r.IntN(2) == 0 {
			a, b = b, a
		}
		a.close()
		b.close()
		if f.verbose {
			f.printf("churn: namespace %d dropped\n", n)
		}
		// The kernel frees namespaces in a worker of its own: a pause
		// keeps a long run from piling up thousands waiting for it.
		time.Sleep(20 * time.Millisecond)
	}
}

// inNetns fills a churned namespace's table and leaves a replace staged,
// with random requests between.
func (f *fuzzer) inNetns(s *sock, r *rand.Rand, n int64) {
	g := NewGen(r.Uint64(), nil)
	send := func(req Request) *answer {
		a, err := s.exchange(req)
		f.requests.Add(1)
		if err != nil {
			f.finding(-1, n, &req, err)
			return nil
		}
		f.judge(-1, n, &req, a)
		return &a
	}
	send(g.request(cmdModeSet, flagRequest|flagAck, attr(attrMode, u8(uint8(r.IntN(2)))), "MODE_SET"))
	entries := r.IntN(1500)
	for round := range 2 {
		a := send(g.request(cmdReplaceBegin, flagRequest, nil, "REPLACE_BEGIN"))
		if a == nil || len(a.replies) == 0 || a.replies[0].replaceID == nil {
			return
		}
		id := attr(attrReplaceID, u32(*a.replies[0].replaceID))
		for start := 0; start < entries; start += 200 {
			body := append([]byte(nil), id...)
			for i := start; i < min(start+200, entries); i++ {
				e := entry{family: 2, dscp: uint8(i % 64), local: []byte{10, 200, byte(i >> 8), byte(i)}, vip: vipPool4[i%3], dscpSet: -1}
				body = append(body, attr(attrEntry|nlaNested, e.encode())...)
			}
			send(g.request(cmdReplaceAdd, flagRequest|flagAck, body, "REPLACE_ADD churn"))
			if start == 0 {
				for range 5 {
					send(g.Next().Reqs[0])
				}
			}
		}
		if round == 0 {
			send(g.request(cmdReplaceCommit, flagRequest|flagAck, id, "REPLACE_COMMIT churn"))
		}
	}
}

// finishDump reads the rest of the dump seq, which has read a part
// already: it must end, and decode. Whether it says it was interrupted
// depends on where the first part ended, so that is not checked.
func (s *sock) finishDump(seq uint32) error {
	buf := make([]byte, 1<<16)
	for {
		msgs, err := s.recv(buf)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch {
			case m.seq != seq:
				return fmt.Errorf("a message of type %d for sequence %d, not %d", m.typ, m.seq, seq)
			case m.typ == nlmsgDone || m.typ == nlmsgError:
				return nil
			case m.typ == s.family:
				if _, err := s.decode(m.data); err != nil {
					return err
				}
			default:
				return fmt.Errorf("a message of type %d", m.typ)
			}
		}
	}
}
