package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// fuzzer is one run: its limits, its counts, and where it reports.
type fuzzer struct {
	seed       uint64
	iterations int64 // 0: no limit
	deadline   time.Time
	keep       *Key
	verbose    bool
	open       func() (link, error)

	outMu sync.Mutex
	out   io.Writer

	next, requests, kernelErrors, findings atomic.Int64
	// stopped ends the churner when the workers are done.
	stopped atomic.Bool
}

func (f *fuzzer) printf(format string, args ...any) {
	f.outMu.Lock()
	defer f.outMu.Unlock()
	fmt.Fprintf(f.out, format, args...)
}

// finding reports what must not happen, with what replays it.
func (f *fuzzer) finding(worker int, it int64, r *Request, err error) {
	f.findings.Add(1)
	what := ""
	if r != nil {
		what = fmt.Sprintf(" request %q flags=%#x body=%s:", r.Desc, r.Flags, hex.EncodeToString(r.Body))
	}
	f.printf("FINDING: seed=%d worker=%d iteration=%d:%s %v\n", f.seed, worker, it, what, err)
}

// over says whether the run has used its iterations or its time.
func (f *fuzzer) over(it int64) bool {
	return f.stopped.Load() || (f.iterations > 0 && it >= f.iterations) || time.Now().After(f.deadline)
}

// worker runs iterations from its own generator (seed+w) on its own socket
// until the run is over.
func (f *fuzzer) worker(w int) {
	g := NewGen(f.seed+uint64(w), f.keep)
	l, err := f.open()
	if err != nil {
		f.finding(w, -1, nil, err)
		return
	}
	var id uint32
	for {
		it := f.next.Add(1) - 1
		if f.over(it) {
			break
		}
		op := g.Next()
		for _, r := range op.Reqs {
			if r.ID == idCurrent && r.IDOffset+4 <= len(r.Body) {
				r.Body = append([]byte(nil), r.Body...)
				binary.NativeEndian.PutUint32(r.Body[r.IDOffset:], id)
			}
			a, err := l.exchange(r)
			f.requests.Add(1)
			if f.verbose {
				f.printf("w%d it%d %s -> errno=%d %s\n", w, it, r.Desc, a.errno, a.text)
			}
			if err != nil {
				f.finding(w, it, &r, err)
				// The socket may hold answers still to come: start over.
				l.close()
				if l, err = f.open(); err != nil {
					f.finding(w, it, nil, err)
					return
				}
				break
			}
			if a.errno != 0 {
				f.kernelErrors.Add(1)
				if !allowedErrnos[a.errno] {
					f.finding(w, it, &r, fmt.Errorf("errno %d (%v) is not one the module may answer: %q", int(a.errno), a.errno, a.text))
				}
			}
			for _, rep := range a.replies {
				if rep.replaceID != nil {
					id = *rep.replaceID
				}
			}
		}
		if op.End == endClose {
			l.close()
			if l, err = f.open(); err != nil {
				f.finding(w, it, nil, err)
				return
			}
		}
	}
	l.close()
}
