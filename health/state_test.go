package health

import (
	"slices"
	"testing"
)

func TestTrackerRiseAndFall(t *testing.T) {
	const F, S = false, true
	for _, c := range []struct {
		name       string
		rise, fall int
		start      State
		results    []bool
		changes    []int // the results that change the state, by index
		end        State
	}{
		{"down after fall failures in a row", 2, 3, Up, []bool{F, F, F, F}, []int{2}, Down},
		{"a success breaks the run of failures", 2, 3, Up, []bool{F, F, S, F, F, S}, nil, Up},
		{"up after rise successes in a row", 2, 3, Down, []bool{S, S, S}, []int{1}, Up},
		{"a failure breaks the run of successes", 2, 3, Down, []bool{S, F, S, F}, nil, Down},
		{"down, then up again", 2, 2, Up, []bool{F, F, S, S, F, F}, []int{1, 3, 5}, Down},
		{"rise and fall of 1 follow every result", 1, 1, Up, []bool{F, S, S, F}, []int{0, 1, 3}, Down},
		{"rise and fall below 1 act as 1", 0, 0, Up, []bool{F, S}, []int{0, 1}, Up},
	} {
		tr := newTracker(c.rise, c.fall, c.start)
		var changes []int
		for i, ok := range c.results {
			if tr.observe(ok) {
				changes = append(changes, i)
			}
		}
		if !slices.Equal(changes, c.changes) || tr.state != c.end {
			t.Errorf("%s: changes at %v, ends %s; want %v, %s", c.name, changes, tr.state, c.changes, c.end)
		}
	}
}

func TestStateString(t *testing.T) {
	if Up.String() != "up" || Down.String() != "down" || State(7).String() != "state(7)" {
		t.Errorf("got %s %s %s", Up, Down, State(7))
	}
}
