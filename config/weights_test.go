package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

var (
	wk1   = director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	wrs10 = netip.MustParseAddr("10.1.0.10")
	wrs11 = netip.MustParseAddr("10.1.0.11")
)

// planWith plans the file in against d with ws, applies the plan and
// returns its step texts.
func planWith(t *testing.T, d *fakeDirector, in string, ws weights) string {
	t.Helper()
	steps := planWeights(mustParse(t, in).director, d.svcs, d, ws)
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	return whats(steps)
}

// only says that real a of wk1 has weight w (for drained and Weights).
func only(a netip.Addr, w int32) func(director.Key, netip.Addr) (int32, bool) {
	return func(k director.Key, b netip.Addr) (int32, bool) { return w, k == wk1 && b == a }
}

func realWeight(t *testing.T, d *fakeDirector, k director.Key, a netip.Addr) int32 {
	t.Helper()
	for _, s := range d.svcs {
		for _, r := range s.Reals {
			if s.Key == k && r.Addr == a {
				return r.Weight
			}
		}
	}
	t.Fatalf("no real %s of %s", a, k)
	return 0
}

// A drained real stays at 0 through apply, whatever the file says, and
// the plan says why; once undrained (no record), apply gives the file's.
func TestPlanKeepsDrain(t *testing.T) {
	d := newFakeDirector()
	planWith(t, d, dirBase, weights{})
	drained := weights{drained: only(wrs10, 100)}
	if got := planWith(t, d, dirBase, drained); got != "edit real 10.1.0.10 of service tcp 10.0.0.1:80: weight 100 -> 0 (drained)" {
		t.Errorf("drained plan: %q", got)
	}
	if w := realWeight(t, d, wk1, wrs10); w != 0 {
		t.Errorf("drained weight after apply: %d", w)
	}
	// Again, and with the file's weight changed: nothing to do.
	if got := planWith(t, d, strings.Replace(dirBase, "10.1.0.10, weight: 100", "10.1.0.10, weight: 70", 1), drained); got != "" {
		t.Errorf("second apply of a drained real: %q", got)
	}
	// KeepWeights does not keep a drained real's hand-set weight: apply
	// never undoes a drain (undrain ends it).
	d.svcs[0].Reals[0].Weight = 40
	if got := planWith(t, d, dirBase, weights{PlanOptions: PlanOptions{KeepWeights: true}, drained: only(wrs10, 100)}); !strings.Contains(got, "weight 40 -> 0 (drained)") {
		t.Errorf("drained with KeepWeights: %q", got)
	}
	if got := planWith(t, d, dirBase, weights{}); got != "edit real 10.1.0.10 of service tcp 10.0.0.1:80: weight 0 -> 100" {
		t.Errorf("after undrain: %q", got)
	}
}

// A real the file adds while it is recorded drained (drained, then taken
// out and put back, or its service made anew) comes in at 0.
func TestPlanAddsDrainedAtZero(t *testing.T) {
	d := newFakeDirector()
	got := planWith(t, d, dirBase, weights{drained: only(wrs11, 100)})
	if !strings.Contains(got, "add real 10.1.0.11 to service tcp 10.0.0.1:80 (weight 0, drained)") ||
		!strings.Contains(got, "add real 10.1.0.10 to service tcp 10.0.0.1:80 (weight 100)\n") {
		t.Errorf("plan:\n%s", got)
	}
	if w := realWeight(t, d, wk1, wrs11); w != 0 {
		t.Errorf("added drained real has weight %d", w)
	}
}

// KeepWeights leaves a weight set by hand; other differences are still
// edited, and new reals get the file's weight.
func TestPlanKeepWeights(t *testing.T) {
	d := newFakeDirector()
	planWith(t, d, dirBase, weights{})
	d.svcs[0].Reals[0].Weight = 5 // 'director real edit --weight 5'
	keep := weights{PlanOptions: PlanOptions{KeepWeights: true}}
	if got := planWith(t, d, dirBase, keep); got != "" {
		t.Errorf("KeepWeights: want no change, got %q", got)
	}
	edited := strings.Replace(dirBase, "{address: 10.1.0.10, weight: 100}", "{address: 10.1.0.10, weight: 100, upper_threshold: 9}", 1)
	edited = strings.Replace(edited, "        - {address: 10.1.0.11, weight: 100}\n", "        - {address: 10.1.0.11, weight: 100}\n        - {address: 10.1.0.12, weight: 30}\n", 1)
	want := "add real 10.1.0.12 to service tcp 10.0.0.1:80 (weight 30)\nedit real 10.1.0.10 of service tcp 10.0.0.1:80: upper_threshold 0 -> 9"
	if got := planWith(t, d, edited, keep); got != want {
		t.Errorf("KeepWeights with other edits:\n%s\nwant\n%s", got, want)
	}
	if w := realWeight(t, d, wk1, wrs10); w != 5 {
		t.Errorf("hand-set weight: want 5, got %d", w)
	}
	if got := planWith(t, d, edited, weights{}); got != "edit real 10.1.0.10 of service tcp 10.0.0.1:80: weight 5 -> 100" {
		t.Errorf("without KeepWeights the file's weight comes back: %q", got)
	}
}

// The Weights hook holds a real at its weight (a down real at 0) above
// the file and KeepWeights, and keeps a real out with WeightOut.
func TestPlanWeightsHook(t *testing.T) {
	d := newFakeDirector()
	planWith(t, d, dirBase, weights{})
	held := weights{PlanOptions: PlanOptions{KeepWeights: true, Weights: only(wrs10, 0)}}
	if got := planWith(t, d, dirBase, held); got != "edit real 10.1.0.10 of service tcp 10.0.0.1:80: weight 100 -> 0 (held)" {
		t.Errorf("held at 0: %q", got)
	}
	if got := planWith(t, d, dirBase, held); got != "" {
		t.Errorf("held again: %q", got)
	}
	out := weights{PlanOptions: PlanOptions{Weights: only(wrs11, WeightOut)}}
	if got := planWith(t, d, dirBase, out); !strings.Contains(got, "delete real 10.1.0.11 from service tcp 10.0.0.1:80") ||
		!strings.Contains(got, "weight 0 -> 100") {
		t.Errorf("out: %q", got)
	}
	// Out stays out: not added back while the hook says so.
	if got := planWith(t, d, dirBase, out); got != "" {
		t.Errorf("out again: %q", got)
	}
	if got := planWith(t, d, dirBase, weights{}); got != "add real 10.1.0.11 to service tcp 10.0.0.1:80 (weight 100)" {
		t.Errorf("back in: %q", got)
	}
}
