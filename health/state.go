package health

import "fmt"

// State is what a real's checks say of it.
//
// There is no "unknown": a tracker always starts from a state its caller
// gives (the agent gives Up, so that restarting it never quiesces a real
// that is fine), and leaves it only by rise or fall results in a row.
// The zero value is Up for the same reason.
type State uint8

// The states: a Down real gets no new connections.
const (
	Up State = iota
	Down
)

// String returns "up", "down", or "state(N)".
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// tracker is the rise/fall hysteresis of one real: it goes Down after fall
// failures in a row and Up after rise successes in a row, so that one
// lost probe does not move traffic.
type tracker struct {
	rise, fall int
	state      State
	run        int // results in a row against state
}

func newTracker(rise, fall int, start State) *tracker {
	return &tracker{rise: max(rise, 1), fall: max(fall, 1), state: start}
}

// observe takes one probe's result and says whether the state changed.
func (t *tracker) observe(ok bool) bool {
	if ok == (t.state == Up) {
		t.run = 0 // agrees: a run against the state is broken
		return false
	}
	t.run++
	need := t.fall
	if t.state == Down {
		need = t.rise
	}
	if t.run < need {
		return false
	}
	t.run = 0
	if t.state == Up {
		t.state = Down
	} else {
		t.state = Up
	}
	return true
}
