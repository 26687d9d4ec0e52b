package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// fakeKernel stands in for the module in the host tests: it records every
// request and answers as the module would in the simplest way, with knobs
// to break it.
type fakeKernel struct {
	mu      sync.Mutex
	sent    []string
	opens   int
	nextID  uint32
	entries []dumpEntry
	// statsEntries, if >= 0, is what STATS_GET claims instead of the truth.
	statsEntries int
	// errno, if set, answers every MAP_DEL, or only the request whose
	// body is failBody.
	errno    unix.Errno
	failBody string
	// idsRight and idsWrong count the requests that carry the last
	// BEGIN's id where the worker writes it, and those that carry another.
	idsRight, idsWrong int
}

type fakeLink struct{ k *fakeKernel }

func (k *fakeKernel) open() (link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.opens++
	return fakeLink{k}, nil
}

func (l fakeLink) close() error { return nil }

func (l fakeLink) exchange(r Request) (answer, error) {
	k := l.k
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent = append(k.sent, fmt.Sprintf("%#x %x", r.Flags, r.Body))
	if r.ID == idCurrent {
		if binary.NativeEndian.Uint32(r.Body[r.IDOffset:]) == k.nextID {
			k.idsRight++
		} else {
			k.idsWrong++
		}
	}
	if k.failBody != "" {
		if string(r.Body) == k.failBody {
			return answer{errno: k.errno}, nil
		}
	} else if k.errno != 0 && len(r.Body) >= 4 && r.Body[0] == cmdMapDel {
		return answer{errno: k.errno}, nil
	}
	if len(r.Body) < 4 {
		return answer{errno: unix.EINVAL}, nil
	}
	switch r.Body[0] {
	case cmdReplaceBegin:
		k.nextID++
		id := k.nextID
		return answer{replies: []reply{{replaceID: &id}}}, nil
	case cmdStatsGet:
		n := len(k.entries)
		if k.statsEntries >= 0 {
			n = k.statsEntries
		}
		return answer{replies: []reply{{stats: &stats{Rewritten: 100, Entries: uint32(n)}}}}, nil
	case cmdMapGet:
		return answer{replies: []reply{{entries: k.entries}}}, nil
	case cmdMapFlush:
		k.entries = nil
		return answer{acked: true}, nil
	}
	if r.Body[0] > cmdMax || r.Body[0] == 0 {
		return answer{errno: unix.EOPNOTSUPP}, nil
	}
	return answer{acked: true}, nil
}

func newFake() *fakeKernel {
	return &fakeKernel{statsEntries: -1, entries: []dumpEntry{{Family: 2, DSCP: 10, VIP: netip.MustParseAddr("10.80.0.1"), DSCPSet: -1, Packets: 5}}}
}
