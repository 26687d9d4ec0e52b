package agent

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/health"
)

func newFake(svc director.Service) *fakeDirector {
	s := svc
	s.Reals = slices.Clone(svc.Reals)
	return &fakeDirector{svcs: []director.Service{s}}
}

func wantWeight(t *testing.T, fd *fakeDirector, a netip.Addr, want int32) {
	t.Helper()
	got, ok := fd.weight(svcKey, a)
	if !ok || got != want {
		t.Fatalf("real %s: weight %d (present %v), want %d; calls %q", a, got, ok, want, fd.calls)
	}
}

func TestQuiesceAndRestore(t *testing.T) {
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	_, c := newTestAgent(t, fd, svc, "")
	c.react(context.Background(), event(rip1, health.Down))
	wantWeight(t, fd, rip1, 0)
	wantWeight(t, fd, rip2, 100)
	if c.action(svcKey, rip1) != actionQuiesced {
		t.Fatalf("rip1's action %v, want quiesced", c.action(svcKey, rip1))
	}
	c.react(context.Background(), event(rip1, health.Up))
	wantWeight(t, fd, rip1, 100)
	want := []string{"edit real 192.0.2.10 weight 0", "edit real 192.0.2.10 weight 100"}
	if !slices.Equal(fd.calls, want) {
		t.Fatalf("calls %q, want %q", fd.calls, want)
	}
}

// A weight the operator set while the real was down is not the agent's to
// take back.
func TestRestoreLeavesOperatorWeight(t *testing.T) {
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	_, c := newTestAgent(t, fd, svc, "")
	c.react(context.Background(), event(rip1, health.Down))
	w := int32(7)
	fd.EditReal(svcKey, rip1, director.RealEdit{Weight: &w})
	c.react(context.Background(), event(rip1, health.Up))
	wantWeight(t, fd, rip1, 7)
}

// A real at weight 0 already (drained by hand) is not given a weight back
// when it comes up: the agent took nothing from it.
func TestDownAtZeroTakesNothing(t *testing.T) {
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	fd.svcs[0].Reals[0].Weight = 0
	_, c := newTestAgent(t, fd, svc, "")
	c.react(context.Background(), event(rip1, health.Down))
	c.react(context.Background(), event(rip1, health.Up))
	wantWeight(t, fd, rip1, 0)
	if len(fd.calls) != 0 {
		t.Fatalf("calls %q, want none", fd.calls)
	}
}

func TestRemoveAndAddBack(t *testing.T) {
	svc := testService(health.Remove)
	fd := newFake(svc.Service)
	_, c := newTestAgent(t, fd, svc, "")
	c.react(context.Background(), event(rip2, health.Down))
	if _, ok := fd.weight(svcKey, rip2); ok {
		t.Fatalf("rip2 still in the service: calls %q", fd.calls)
	}
	c.react(context.Background(), event(rip2, health.Up))
	wantWeight(t, fd, rip2, 100)
}

func TestSorryInAndOut(t *testing.T) {
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	_, c := newTestAgent(t, fd, svc, "")
	c.react(context.Background(), event(rip1, health.Down))
	if _, ok := fd.weight(svcKey, sorry); ok {
		t.Fatal("the sorry real is in with one real still up")
	}
	c.react(context.Background(), event(rip2, health.Down))
	wantWeight(t, fd, sorry, 1)
	c.react(context.Background(), event(rip2, health.Up))
	if _, ok := fd.weight(svcKey, sorry); ok {
		t.Fatalf("the sorry real stayed in after a real came back: calls %q", fd.calls)
	}
	wantWeight(t, fd, rip2, 100)
}

// What the agent did survives a restart: a real it quiesced starts Down, so
// that it gets its weight back when it passes again.
func TestStateSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "agent.json")
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	_, c := newTestAgent(t, fd, svc, state)
	c.react(context.Background(), event(rip1, health.Down))
	c.close()

	_, c2 := newTestAgent(t, fd, svc, state)
	if c2.action(svcKey, rip1) != actionQuiesced {
		t.Fatalf("after a restart rip1's action is %v, want quiesced", c2.action(svcKey, rip1))
	}
	rec, err := ReadHealth(state)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := rec.find(svcKey, rip1)
	if !ok || r.Up || r.Action != "quiesced" || r.Last == "" {
		t.Fatalf("record of rip1: %+v (found %v), want down, quiesced, with the probe's error", r, ok)
	}
	c2.react(context.Background(), event(rip1, health.Up))
	wantWeight(t, fd, rip1, 100)
}

// The plan's view: a down real is held at 0, or out when removed, and a
// sorry real that is in stays in the file the plan sees.
func TestPlanView(t *testing.T) {
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	a, c := newTestAgent(t, fd, svc, "")
	a.file = fileWith(t, svc)
	if _, ok := c.weight(svcKey, rip1); ok {
		t.Fatal("a real that is up is held")
	}
	c.react(context.Background(), event(rip1, health.Down))
	if w, ok := c.weight(svcKey, rip1); !ok || w != 0 {
		t.Fatalf("quiesced real: weight %d held %v, want 0 held", w, ok)
	}
	c.react(context.Background(), event(rip2, health.Down))
	got := weights(a.withSorry())
	if w, ok := got[sorry]; !ok || w != 1 {
		t.Fatalf("the file the plan sees has reals %v, want the sorry real at weight 1", got)
	}

	rsvc := testService(health.Remove)
	_, rc := newTestAgent(t, newFake(rsvc.Service), rsvc, "")
	rc.react(context.Background(), event(rip2, health.Down))
	if w, ok := rc.weight(svcKey, rip2); !ok || w != config.WeightOut {
		t.Fatalf("removed real: weight %d held %v, want WeightOut", w, ok)
	}
}

// The monitor never waits for the loop: events pile up while it is busy
// and come out in order.
func TestQueueNeverBlocks(t *testing.T) {
	q := newQueue()
	for i := range 1000 {
		q.push(health.Event{ID: fmt.Sprint(i)})
	}
	<-q.ready
	evs := q.take()
	if len(evs) != 1000 || evs[0].ID != "0" || evs[999].ID != "999" {
		t.Fatalf("took %d events, first %q last %q", len(evs), evs[0].ID, evs[len(evs)-1].ID)
	}
	if len(q.take()) != 0 {
		t.Fatal("a second take returned events")
	}
}
