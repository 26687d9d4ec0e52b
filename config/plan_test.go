package config

import (
	"context"
	"strings"
	"testing"
)

func mustParse(t *testing.T, in string) *File {
	t.Helper()
	f, err := parseFile("t", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const dirBase = `director:
  services:
    - vip: 10.0.0.1:80
      dscp: 21
      reals:
        - {address: 10.1.0.10, weight: 100}
        - {address: 10.1.0.11, weight: 100}
    - vip: 10.0.0.2:53
      proto: udp
      mode: ipip
      reals:
        - {address: 10.1.0.10}
`

// planDir plans and applies the file's director section against d, and
// returns the step texts.
func planDir(t *testing.T, d *fakeDirector, in string) []Step {
	t.Helper()
	f := mustParse(t, in)
	return planDirector(f.director, d.svcs, d)
}

func whats(steps []Step) string {
	var s []string
	for _, st := range steps {
		s = append(s, st.What)
	}
	return strings.Join(s, "\n")
}

func TestPlanDirector(t *testing.T) {
	d := newFakeDirector()
	steps := planDir(t, d, dirBase)
	want := `add service tcp 10.0.0.1:80 (dscp 21, wlc)
add service udp 10.0.0.2:53 (ipip, wlc)
add real 10.1.0.10 to service tcp 10.0.0.1:80 (weight 100)
add real 10.1.0.11 to service tcp 10.0.0.1:80 (weight 100)
add real 10.1.0.10 to service udp 10.0.0.2:53 (weight 1)`
	if got := whats(steps); got != want {
		t.Fatalf("plan from nothing:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	if len(d.calls) != 5 {
		t.Errorf("calls = %q", d.calls)
	}

	// The same file again: nothing to do, and no call is made.
	d.calls = nil
	if steps := planDir(t, d, dirBase); len(steps) != 0 || len(d.calls) != 0 {
		t.Fatalf("second plan = %q, calls %q; want none", whats(steps), d.calls)
	}

	// Remove a real, change a weight, change the scheduler, drop a service,
	// add one.
	edited := `director:
  services:
    - vip: 10.0.0.1:80
      dscp: 21
      scheduler: rr
      reals:
        - {address: 10.1.0.10, weight: 50}
    - vip: 10.0.0.3:80
      dscp: 23
`
	steps = planDir(t, d, edited)
	want = `delete real 10.1.0.11 from service tcp 10.0.0.1:80
delete service udp 10.0.0.2:53 (ipip, wlc)
edit service tcp 10.0.0.1:80: scheduler wlc -> rr
add service tcp 10.0.0.3:80 (dscp 23, wlc)
edit real 10.1.0.10 of service tcp 10.0.0.1:80: weight 100 -> 50`
	if got := whats(steps); got != want {
		t.Fatalf("plan of the edit:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	if steps := planDir(t, d, edited); len(steps) != 0 {
		t.Fatalf("after the edit: %q", whats(steps))
	}

	// A mode change replaces the service.
	steps = planDir(t, d, strings.Replace(edited, "dscp: 21\n", "mode: ipip\n", 1))
	if got := whats(steps); !strings.HasPrefix(got, "delete service tcp 10.0.0.1:80 (dscp 21, rr)\nadd service tcp 10.0.0.1:80 (ipip, rr)") ||
		!strings.Contains(got, "add real 10.1.0.10 to service tcp 10.0.0.1:80 (weight 50)") {
		t.Errorf("mode change plan:\n%s", got)
	}

	// An empty director section removes every service.
	steps = planDir(t, d, "director:\n")
	if got := whats(steps); got != "delete service tcp 10.0.0.1:80 (dscp 21, rr)\ndelete service tcp 10.0.0.3:80 (dscp 23, wlc)" {
		t.Errorf("empty section plan:\n%s", got)
	}
}

// A plan that is only computed (what --dry-run does) makes no call.
func TestPlanMakesNoCalls(t *testing.T) {
	d := newFakeDirector()
	steps := planDir(t, d, dirBase)
	rs := newFakeRS()
	f := mustParse(t, "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 21}\n")
	rsteps := planRealServer(context.Background(), f.realServer, rs.vips, rs)
	if len(steps) != 5 || len(rsteps) != 1 || len(d.calls)+len(rs.calls) != 0 {
		t.Errorf("planning made calls: %q %q", d.calls, rs.calls)
	}
}

// Every step that fails half-way leaves the state as it was before Apply.
func TestApplyRollsBack(t *testing.T) {
	start := func() *fakeDirector {
		d := newFakeDirector()
		if _, err := (Plan{planDir(t, d, dirBase)}).Apply(); err != nil {
			t.Fatal(err)
		}
		d.calls = nil
		return d
	}
	edited := `director:
  services:
    - vip: 10.0.0.1:80
      dscp: 22
      persistent: 60
      reals:
        - {address: 10.1.0.10, weight: 7}
        - {address: 10.1.0.12}
    - vip: 10.0.0.4:80
      dscp: 24
      reals: [{address: 10.1.0.10}]
`
	n := len(planDir(t, start(), edited))
	if n != 7 {
		t.Fatalf("want 7 steps, got %d: %s", n, whats(planDir(t, start(), edited)))
	}
	for fail := 0; fail < n; fail++ {
		d := start()
		before := d.state()
		steps := planDir(t, d, edited)
		d.failAt = fail
		out, err := (Plan{steps}).Apply()
		if err == nil {
			t.Fatalf("step %d: no error", fail)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, steps[fail].What+": injected failure; ") {
			t.Errorf("step %d: error %q does not name the step", fail, msg)
		}
		if fail == 0 && !strings.Contains(msg, "nothing had been changed before it") ||
			fail > 0 && !strings.Contains(msg, "were undone") {
			t.Errorf("step %d: error %q does not say what was undone", fail, msg)
		}
		if len(out.Done) != fail {
			t.Errorf("step %d: %d steps reported done", fail, len(out.Done))
		}
		if after := d.state(); after != before {
			t.Errorf("step %d failed: state not restored\nbefore %s\nafter  %s\ncalls %q", fail, before, after, d.calls)
		}
	}
}

func TestApplyReportsWhatCouldNotBeUndone(t *testing.T) {
	d := newFakeDirector()
	steps := planDir(t, d, dirBase)
	// Fail the third call (the first AddReal); the undo of the second
	// AddService (call 4, DelService) fails too.
	d.failAt = 2
	orig := steps[1].undo
	steps[1].undo = func() error { _ = orig(); return errorString("netlink busy") }
	_, err := (Plan{steps}).Apply()
	if err == nil || !strings.Contains(err.Error(), "left these in place: add service udp 10.0.0.2:53 (ipip, wlc) (undo failed: netlink busy)") {
		t.Errorf("err = %v", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestPlanRealServer(t *testing.T) {
	ctx := context.Background()
	rs := newFakeRS()
	in := "realserver:\n  iptables: nft\n  vips:\n    - {vip: 10.0.0.1, dscp: 21}\n    - {vip: 10.0.0.2, dscp: 22}\n    - {vip: 10.0.0.3, mode: ipip}\n"
	f := mustParse(t, in)
	steps := planRealServer(ctx, f.realServer, rs.vips, rs)
	want := "set up VIP 10.0.0.1 (dscp, DSCP 21)\nset up VIP 10.0.0.2 (dscp, DSCP 22)\nset up VIP 10.0.0.3 (ipip)"
	if got := whats(steps); got != want {
		t.Fatalf("plan:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(rs.calls[0], " nft") {
		t.Errorf("Up did not get the iptables variant: %q", rs.calls)
	}
	// The running ipip VIP has the derived MSS; the file leaves it out.
	rs.vips[2].MSS = 1440
	if steps := planRealServer(ctx, f.realServer, rs.vips, rs); len(steps) != 0 {
		t.Fatalf("second plan: %s", whats(steps))
	}
	// Drop one VIP, change another's DSCP, and one running VIP is broken.
	rs.vips[2].OK = false
	f = mustParse(t, "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 23}\n    - {vip: 10.0.0.3, mode: ipip}\n")
	steps = planRealServer(ctx, f.realServer, rs.vips, rs)
	// A new code is added before the old one goes: the VIP stays up.
	want = "take down VIP 10.0.0.2 (dscp, DSCP 22)\nadd DSCP 23 to VIP 10.0.0.1 (dscp)\nrepair VIP 10.0.0.3 (ipip) (not running as set up)\ntake DSCP 21 off VIP 10.0.0.1 (dscp)"
	if got := whats(steps); got != want {
		t.Fatalf("plan:\n%s\nwant\n%s", got, want)
	}
	// The repair fails: the down and the add are undone.
	before := rs.state()
	rs.failAt = len(rs.calls) + 2
	_, err := (Plan{steps}).Apply()
	if err == nil || !strings.Contains(err.Error(), "the 2 change(s) made before it were undone") {
		t.Fatalf("err = %v", err)
	}
	if rs.state() != before {
		t.Errorf("state not restored:\nbefore %s\nafter  %s", before, rs.state())
	}
}

// A warning that several steps give (a DSCP's, with every service of the
// code) is reported once.
func TestApplyWarnsOnce(t *testing.T) {
	step := func(w ...string) Step {
		return Step{What: "x", do: func() ([]string, []string, error) { return nil, w, nil }}
	}
	out, err := Plan{[]Step{step("DSCP 46 is EF"), step("DSCP 46 is EF", "DSCP 8 is CS1"), step("DSCP 8 is CS1")}}.Apply()
	if err != nil || strings.Join(out.Warnings, "; ") != "DSCP 46 is EF; DSCP 8 is CS1" {
		t.Fatalf("warnings %q, %v", out.Warnings, err)
	}
}
