package agent

import (
	"sync"

	"github.com/l3dsr/l3dsr/health"
)

// queue hands the monitor's events to the agent's loop without ever
// blocking the monitor: the loop may be busy (an apply) or itself waiting
// for the monitor (a reload stops the jobs of reals that left the file,
// and a job blocked on a full channel would never stop).
type queue struct {
	mu     sync.Mutex
	events []health.Event
	// ready has a value when events has some.
	ready chan struct{}
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(ev health.Event) {
	q.mu.Lock()
	q.events = append(q.events, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns the events pushed since the last take, oldest first.
func (q *queue) take() []health.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.events
	q.events = nil
	return evs
}
