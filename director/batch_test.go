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

// batchOfMany adds ten services with their reals to the three of
// scaleServices, edits one of those and a real of it, drops a real of
// another and deletes the third: every kind of change in one batch. It
// stops at the first error.
func batchOfMany(b *Batch) error {
	svcs := scaleServices(13)
	var changes []func() (Result, error)
	for _, s := range svcs[3:] {
		bare := s
		bare.Reals = nil
		changes = append(changes, func() (Result, error) { return b.AddService(bare) })
		for _, r := range s.Reals {
			changes = append(changes, func() (Result, error) { return b.AddReal(s.Key, r) })
		}
	}
	d, w := uint8(40), int32(5)
	changes = append(changes,
		func() (Result, error) { return b.EditService(svcs[0].Key, ServiceEdit{DSCP: &d}) },
		func() (Result, error) { return b.EditReal(svcs[0].Key, svcs[0].Reals[0].Addr, RealEdit{Weight: &w}) },
		func() (Result, error) { return b.DelReal(svcs[1].Key, svcs[1].Reals[1].Addr) },
		func() (Result, error) { return b.DelService(svcs[2].Key) })
	for _, c := range changes {
		if _, err := c(); err != nil {
			return err
		}
	}
	return nil
}

func TestBatchReadsOnceAndCommitsOnce(t *testing.T) {
	f := newFakes()
	applyOneByOne(t, f, scaleServices(3))
	f.ipvs.calls, f.marks.calls = nil, nil
	b := f.d.Begin()
	if err := batchOfMany(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
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

// A batch that fails half-way, or whose commit fails, is undone to the
// state before it (as the one-command path and config's apply undo it).
func TestBatchFailureUndoes(t *testing.T) {
	boom := errors.New("netlink: boom")
	for _, tc := range []struct {
		name string
		set  func(f *fakes)
	}{
		{"commit", func(f *fakes) { f.marks.fail["Sync"] = boom }},
		{"mid-batch", func(f *fakes) { f.ipvs.fail["RemoveService"] = boom }},
	} {
		f := newFakes()
		applyOneByOne(t, f, scaleServices(3))
		before := snapshot(f)
		b := f.d.Begin()
		tc.set(f)
		err := batchOfMany(b)
		if err == nil {
			err = b.Commit()
		}
		if !errors.Is(err, boom) {
			t.Errorf("%s: want the injected error, got %v", tc.name, err)
		}
		clear(f.ipvs.fail)
		if lerr := b.u.Rollback(); lerr != nil {
			t.Errorf("%s: undo: %v", tc.name, lerr)
		}
		if got := snapshot(f); got != before {
			t.Errorf("%s: state after the undo:\n%s\nwant\n%s", tc.name, got, before)
		}
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
