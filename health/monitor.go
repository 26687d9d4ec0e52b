package health

import (
	"context"
	"sync"
	"sync/atomic"
)

// Job is one real's check, as the Monitor runs it.
type Job struct {
	// ID names the job in its events, and across Set calls: a job of the
	// same ID and the same check is the same job.
	ID     string
	Spec   Spec
	Target Target
	// Start is the state before the first result; the zero value is Up.
	Start State
}

// Monitor runs jobs, each in a goroutine of its own, and reports every
// probe's result to the function given to NewMonitor.
type Monitor struct {
	report func(Event)
	probe  func(context.Context, Spec, Target) Result // runProbe; tests replace it

	mu     sync.Mutex // held by Set and Close, which wait for jobs to stop
	jobs   map[string]*running
	closed bool
}

// running is a job's goroutine.
type running struct {
	job    Job
	target atomic.Pointer[Target] // the newest Set's: a reload may hand a new Dialer
	cancel context.CancelFunc
	done   chan struct{}
}

// NewMonitor returns a Monitor with no jobs. report is called after every
// probe, from the job's goroutine, so for different jobs at once: it must
// be safe for that, and it must not call Set or Close.
func NewMonitor(report func(Event)) *Monitor {
	return &Monitor{report: report, probe: runProbe, jobs: map[string]*running{}}
}

// Close stops every job and returns when their goroutines have ended; no
// event is reported after it returns, and Set does nothing any more.
func (m *Monitor) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.stopAll()
}

// stopAll stops the jobs of m.jobs and empties it. m.mu is held.
func (m *Monitor) stopAll() {
	for _, r := range m.jobs {
		r.cancel()
	}
	for id, r := range m.jobs {
		<-r.done
		delete(m.jobs, id)
	}
}

func (m *Monitor) start(j Job) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{job: j, cancel: cancel, done: make(chan struct{})}
	r.target.Store(&j.Target)
	go m.run(ctx, r)
	return r
}
