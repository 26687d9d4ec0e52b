package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
)

const mhFile = `director:
  services:
    - vip: 10.0.0.1:80
      mode: ipip
      scheduler: mh
      reals:
        - {address: 10.1.0.100, weight: 3}
        - {address: 10.1.0.11, weight: 2}
        - {address: 10.1.0.2, weight: 1}
`

// Apply adds the reals of an mh service in canonical order (by bytes:
// 10.1.0.100 last), whatever the file's order; so a director's AddReal
// moves none.
func TestPlanMHAddsInCanonicalOrder(t *testing.T) {
	d := newFakeDirector()
	steps := planDir(t, d, mhFile)
	want := `add service tcp 10.0.0.1:80 (ipip, mh)
add real 10.1.0.2 to service tcp 10.0.0.1:80 (weight 1)
add real 10.1.0.11 to service tcp 10.0.0.1:80 (weight 2)
add real 10.1.0.100 to service tcp 10.0.0.1:80 (weight 3)`
	if got := whats(steps); got != want {
		t.Fatalf("plan:\n%s\nwant\n%s", got, want)
	}
	// A running service with one real: the new ones come in order too.
	d = newFakeDirector()
	d.svcs = []director.Service{{Key: wk1, Mode: "ipip", Scheduler: director.SchedulerMH,
		Reals: []director.Real{{Addr: wrs10, Weight: 1, Forward: director.Forward("ipip")}}}}
	in := strings.Replace(mhFile, "reals:\n", "reals:\n        - {address: 10.1.0.10, weight: 1}\n", 1)
	if _, err := (Plan{planDir(t, d, in)}).Apply(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(d.calls, "; "), "AddReal tcp 10.0.0.1:80 10.1.0.2 w1; AddReal tcp 10.0.0.1:80 10.1.0.11 w2; AddReal tcp 10.0.0.1:80 10.1.0.100 w3"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// A running mh service whose reals IPVS holds out of order gets one
// reorder, first; one that the file makes wlc, or that is in order, none.
func TestPlanMHReordersRunning(t *testing.T) {
	run := func(in string, out []director.Key) (*fakeDirector, []Step) {
		d := newFakeDirector()
		d.svcs = []director.Service{{Key: wk1, Mode: "ipip", Scheduler: director.SchedulerMH}}
		for _, a := range []string{"10.1.0.100", "10.1.0.11", "10.1.0.2"} {
			d.svcs[0].Reals = append(d.svcs[0].Reals, director.Real{Addr: netip.MustParseAddr(a), Weight: map[string]int32{"10.1.0.100": 3, "10.1.0.11": 2, "10.1.0.2": 1}[a], Forward: director.Forward("ipip")})
		}
		f := mustParse(t, in)
		st := director.Status{Services: d.svcs, OutOfOrder: out}
		return d, append(planOrder(f.director, st, d), planWeights(f.director, st.Services, d, weights{})...)
	}
	d, steps := run(mhFile, []director.Key{wk1})
	if got, want := whats(steps), "reorder the reals of service tcp 10.0.0.1:80 for mh (IPVS holds them out of order)"; got != want {
		t.Fatalf("plan %q, want %q", got, want)
	}
	out, err := (Plan{steps}).Apply()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.calls, []string{"Reorder tcp 10.0.0.1:80"}) || len(out.Done) != 1 || !slices.Equal(out.Done[0].Changes, []string{"reordered"}) {
		t.Errorf("calls %q, done %+v", d.calls, out.Done)
	}
	if _, steps := run(mhFile, nil); len(steps) != 0 {
		t.Errorf("in order: plan %q, want none", whats(steps))
	}
	if _, steps := run(strings.Replace(mhFile, "scheduler: mh", "scheduler: wlc", 1), []director.Key{wk1}); strings.Contains(whats(steps), "reorder") {
		t.Errorf("made wlc: plan %q has a reorder", whats(steps))
	}
}
