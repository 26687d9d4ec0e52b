package director

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// snapshot is the fakes' whole state, in a canonical order.
func snapshot(f *fakes) string {
	var lines []string
	for _, s := range f.ipvs.svcs {
		lines = append(lines, fmt.Sprintf("svc %s %s flags %x timeout %d", skey(s), s.Scheduler, s.Flags, s.Timeout))
		for _, d := range f.ipvs.dests[skey(s)] {
			lines = append(lines, fmt.Sprintf("dst %s %s weight %d %s", skey(s), d.Address, d.Weight, d.Forward))
		}
	}
	for _, m := range f.marks.marks {
		lines = append(lines, fmt.Sprintf("mark %+v", m))
	}
	for a, ours := range f.host.local {
		lines = append(lines, fmt.Sprintf("local %s %v", a, ours))
	}
	for k, v := range f.host.sysctls {
		lines = append(lines, "sysctl "+k+"="+v)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// change is one change of a batch with the change that takes it back, as
// config's plan steps are.
type change struct{ do, undo func() (Result, error) }

// manyChanges are the changes from the three services of scaleServices to
// thirteen, in the order of config's plans: a real dropped, a service
// deleted, a code edited, ten services added, then their reals, then a
// weight edited.
func manyChanges(b *Batch) []change {
	svcs := scaleServices(13)
	s0, s1, s2 := svcs[0], svcs[1], svcs[2]
	d, w := uint8(40), int32(5)
	out := []change{
		{func() (Result, error) { return b.DelReal(s1.Key, s1.Reals[1].Addr) },
			func() (Result, error) { return b.AddReal(s1.Key, s1.Reals[1]) }},
		{func() (Result, error) { return b.DelService(s2.Key) },
			func() (Result, error) {
				bare := s2
				bare.Reals = nil
				if r, err := b.AddService(bare); err != nil {
					return r, err
				}
				for _, r := range s2.Reals {
					if res, err := b.AddReal(s2.Key, r); err != nil {
						return res, err
					}
				}
				return Result{}, nil
			}},
		{func() (Result, error) { return b.EditService(s0.Key, ServiceEdit{DSCP: &d}) },
			func() (Result, error) { return b.EditService(s0.Key, ServiceEdit{DSCP: &s0.DSCP}) }},
	}
	for _, s := range svcs[3:] {
		bare := s
		bare.Reals = nil
		out = append(out, change{func() (Result, error) { return b.AddService(bare) },
			func() (Result, error) { return b.DelService(s.Key) }})
	}
	for _, s := range svcs[3:] {
		for _, r := range s.Reals {
			out = append(out, change{func() (Result, error) { return b.AddReal(s.Key, r) },
				func() (Result, error) { return b.DelReal(s.Key, r.Addr) }})
		}
	}
	return append(out, change{
		func() (Result, error) { return b.EditReal(s0.Key, s0.Reals[0].Addr, RealEdit{Weight: &w}) },
		func() (Result, error) {
			return b.EditReal(s0.Key, s0.Reals[0].Addr, RealEdit{Weight: &s0.Reals[0].Weight})
		}})
}

// runChanges carries out the changes and commits, as config's apply does.
// On an error it undoes the changes made (before calling clean, which
// takes the injected failures away), last first, and commits again: the
// state is then as before. It returns the error and what the undo said.
func runChanges(b *Batch, changes []change, clean func()) (err, undoErr error) {
	for i, c := range changes {
		if _, err = c.do(); err == nil && i == len(changes)-1 {
			err = b.Commit()
			i++
		}
		if err != nil {
			clean()
			for j := i - 1; j >= 0; j-- {
				if _, uerr := changes[j].undo(); uerr != nil {
					undoErr = errors.Join(undoErr, uerr)
				}
			}
			return err, errors.Join(undoErr, b.Commit())
		}
	}
	return nil, nil
}

func TestBatchReadsOnceAndCommitsOnce(t *testing.T) {
	f := newFakes()
	applyOneByOne(t, f, scaleServices(3))
	f.ipvs.calls, f.marks.calls = nil, nil
	b := f.d.Begin()
	if err, _ := runChanges(b, manyChanges(b), func() {}); err != nil {
		t.Fatal(err)
	}
	if n := count(f.ipvs.calls, "Services"); n != 1 {
		t.Errorf("IPVS read %d times, want once: %v", n, f.ipvs.calls)
	}
	if f.marks.calls["List"] != 1 || f.marks.calls["Sync"] != 1 || len(f.marks.calls) != 2 {
		t.Errorf("mark requests %v, want one read and one transaction", f.marks.calls)
	}
	var codes []uint8
	for _, m := range f.marks.marks {
		codes = append(codes, m.DSCP)
	}
	slices.Sort(codes)
	if want := []uint8{1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 40}; !slices.Equal(codes, want) {
		t.Errorf("marks after the commit: codes %v, want %v", codes, want)
	}
	// What the batch saw is what runs.
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 12 || len(st.Problems) != 0 {
		t.Errorf("after the batch: %d services, problems %q", len(st.Services), st.Problems)
	}
	// An empty commit sends nothing.
	f.marks.calls = nil
	if err := b.Commit(); err != nil || len(f.marks.calls) != 0 {
		t.Errorf("second commit: %v, requests %v", err, f.marks.calls)
	}
}

// A batch that fails half-way, before its marks went or after, or whose
// marks fail, is undone to the state before it, as config's apply undoes
// it: through the batch, then a commit.
func TestBatchFailureUndoes(t *testing.T) {
	boom := errors.New("netlink: boom")
	for _, tc := range []struct {
		name string
		set  func(f *fakes)
	}{
		{"the marks", func(f *fakes) { f.marks.fail["Sync"] = boom }},
		{"before the marks", func(f *fakes) { f.ipvs.fail["RemoveService"] = boom }},
		{"after the marks", func(f *fakes) { f.ipvs.fail["UpdateDestination"] = boom }},
	} {
		f := newFakes()
		applyOneByOne(t, f, scaleServices(3))
		before := snapshot(f)
		b := f.d.Begin()
		tc.set(f)
		err, uerr := runChanges(b, manyChanges(b), func() { clear(f.ipvs.fail); clear(f.marks.fail) })
		if !errors.Is(err, boom) || uerr != nil {
			t.Errorf("%s: want the injected error and a clean undo, got %v and %v", tc.name, err, uerr)
		}
		if got := snapshot(f); got != before {
			t.Errorf("%s: state after the undo:\n%s\nwant\n%s", tc.name, got, before)
		}
	}
	// The one-command path undoes its own change when its marks fail.
	f := newFakes()
	before := snapshot(f)
	f.marks.fail["Add"] = boom
	if _, err := f.d.AddService(Service{Key: k1, DSCP: 21}); !errors.Is(err, boom) {
		t.Errorf("one command: want the injected error, got %v", err)
	}
	if got := snapshot(f); got != before {
		t.Errorf("one command: state after the undo:\n%s\nwant\n%s", got, before)
	}
}

// A batch's Show is the director's, and the changes after it read nothing
// more: a plan costs one read of the running state.
func TestBatchShowIsTheRead(t *testing.T) {
	f := newFakes()
	applyOneByOne(t, f, scaleServices(5))
	// A lost mark and a mark of no service: Show's problems.
	f.marks.marks = append(f.marks.marks[1:], markOf(Service{Key: Key{VIP: vip1, Port: 80, Proto: 6}, DSCP: 9}))
	want, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	b := f.d.Begin()
	f.ipvs.calls, f.marks.calls = nil, nil
	got, err := b.Show()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batch's Show:\n%+v\nwant\n%+v", got, want)
	}
	w := int32(3)
	s := scaleServices(5)[4]
	if _, err := b.EditReal(s.Key, s.Reals[0].Addr, RealEdit{Weight: &w}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(f.ipvs.calls, "Services"); n != 1 || len(f.ipvs.calls) != 1+5+1 || f.marks.calls["List"] != 1 || len(f.marks.calls) != 1 {
		t.Errorf("one real edited after Show: IPVS %v, marks %v; want one read and one update", f.ipvs.calls, f.marks.calls)
	}
}

// Two services sharing a real swap their codes in one batch: the moment
// between the edits, when one code stands for both VIPs, is never sent,
// and the conflict check sees the whole state at Commit. One command at a
// time refuses the first edit.
func TestBatchSwapsCodes(t *testing.T) {
	f := newFakes()
	for _, s := range []Service{{Key: k1, DSCP: 21}, {Key: k2, DSCP: 22}} {
		mustAdd(t, f, s)
		if _, err := f.d.AddReal(s.Key, Real{Addr: rs1, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	d21, d22 := uint8(21), uint8(22)
	if _, err := f.d.EditService(k1, ServiceEdit{DSCP: &d22}); err == nil || !strings.Contains(err.Error(), "would stand for two VIPs") {
		t.Errorf("one command: want the conflict, got %v", err)
	}
	f.marks.calls = nil
	b := f.d.Begin()
	for _, e := range []struct {
		k Key
		d *uint8
	}{{k1, &d22}, {k2, &d21}} {
		if _, err := b.EditService(e.k, ServiceEdit{DSCP: e.d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if st.Services[0].DSCP != 22 || st.Services[1].DSCP != 21 || len(st.Problems) != 0 || f.marks.calls["Sync"] != 1 {
		t.Errorf("after the swap: %+v, problems %q, mark requests %v", st.Services, st.Problems, f.marks.calls)
	}
	// A batch whose end state has the conflict is refused at Commit.
	b = f.d.Begin()
	if _, err := b.EditService(k1, ServiceEdit{DSCP: &d21}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err == nil || !strings.Contains(err.Error(), "would stand for two VIPs") {
		t.Errorf("conflicting batch: want the conflict at Commit, got %v", err)
	}
}
