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
	keepSpec   string // -keep as given, for the replay line
	verbose    bool
	open       func() (link, error)

	outMu sync.Mutex
	out   io.Writer

	next, requests, kernelErrors, findings atomic.Int64
	// replay is the command line that replays the first finding.
	replay atomic.Pointer[string]
	// stopped ends the churner when the workers are done.
	stopped atomic.Bool
}

func (f *fuzzer) printf(format string, args ...any) {
	f.outMu.Lock()
	defer f.outMu.Unlock()
	fmt.Fprintf(f.out, format, args...)
}

// finding reports what must not happen, with what replays it. A worker's
// (worker >= 0) it is its own iteration, counted from 1, and its stream
// is the one of seed+worker alone; the churner's (-1) and the checks' (-2)
// need the whole run.
func (f *fuzzer) finding(worker int, it int64, r *Request, err error) {
	f.findings.Add(1)
	what := ""
	if r != nil {
		what = fmt.Sprintf(" request %q flags=%#x body=%s:", r.Desc, r.Flags, hex.EncodeToString(r.Body))
	}
	f.printf("FINDING: seed=%d worker=%d iteration=%d:%s %v\n", f.seed, worker, it, what, err)
	seed := f.seed
	if worker >= 0 {
		seed += uint64(worker)
	} else {
		it = f.next.Load()
		if f.iterations > 0 {
			it = min(it, f.iterations)
		}
	}
	line := fmt.Sprintf("genlfuzz -seed %d -iterations %d -workers 1 -netns-churn=false", seed, it)
	if f.keepSpec != "" {
		line += " -keep " + f.keepSpec
	}
	f.replay.CompareAndSwap(nil, &line)
}

// judge counts a's error, and reports an errno the module may not answer.
func (f *fuzzer) judge(worker int, it int64, r *Request, a answer) {
	if a.errno == 0 {
		return
	}
	f.kernelErrors.Add(1)
	if !allowedErrnos[a.errno] {
		f.finding(worker, it, r, fmt.Errorf("errno %d (%v) is not one the module may answer: %q", int(a.errno), a.errno, a.text))
	}
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
	for n := int64(1); ; n++ {
		if f.over(f.next.Add(1) - 1) {
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
				f.printf("w%d it%d %s -> errno=%d %s\n", w, n, r.Desc, a.errno, a.text)
			}
			if err != nil {
				f.finding(w, n, &r, err)
				// The socket may hold answers still to come: start over.
				l.close()
				if l, err = f.open(); err != nil {
					f.finding(w, n, nil, err)
					return
				}
				break
			}
			f.judge(w, n, &r, a)
			for _, rep := range a.replies {
				if rep.replaceID != nil {
					id = *rep.replaceID
				}
			}
		}
		if op.End == endClose {
			l.close()
			if l, err = f.open(); err != nil {
				f.finding(w, n, nil, err)
				return
			}
		}
	}
	l.close()
}
