package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// batchOp is one call of the differential test: Up of c, or Down (code 0)
// or DownCode of vip.
type batchOp struct {
	up   *Config
	vip  string
	code uint8
}

func (o batchOp) run(api changer) (Applied, error) {
	switch {
	case o.up != nil:
		return api.Up(ctx, *o.up, xtrule.Default)
	case o.code == 0:
		return api.Down(ctx, netip.MustParseAddr(o.vip))
	default:
		return api.DownCode(ctx, netip.MustParseAddr(o.vip), o.code)
	}
}

func upOp(c Config) batchOp { return batchOp{up: &c} }

// batchOps mixes every mode, several codes, a refused clash, a repair and
// the downs of each kind.
func batchOps() []batchOp {
	return []batchOp{
		upOp(dscpVIP("10.0.0.1", 21)),
		upOp(dscpVIP("10.0.0.1", 22)),
		upOp(localVIP("10.0.0.2", 21, "192.0.2.10")),
		upOp(dscpVIP("2001:db8::1", 5)),
		upOp(ipipVIP("10.0.0.3")),
		upOp(drVIP("10.0.0.4")),
		upOp(dscpVIP("10.0.0.5", 21)), // refused: 10.0.0.1 has code 21 already
		upOp(dscpVIP("10.0.0.1", 21)), // set up already: no change
		{vip: "10.0.0.1", code: 21},
		{vip: "10.0.0.3"},
		{vip: "2001:db8::1"},
		upOp(dscpVIP("10.0.0.6", 30)),
		{vip: "10.0.0.6"},
		upOp(dscpVIP("10.0.0.6", 31)), // back on lo
		{vip: "10.0.0.9"},             // not set up
		upOp(addrVIP("10.0.0.7", "192.0.2.70")),
		upOp(addrVIP("10.0.0.8", "192.0.2.70")), // refused: 10.0.0.7 has the RIP
		upOp(addrVIP("2001:db8::7", "2001:db8:1::70")),
		upOp(addrVIP("10.0.0.7", "192.0.2.70")), // set up already: no change
		{vip: "10.0.0.7"},
		upOp(addrVIP("10.0.0.8", "192.0.2.70")), // the RIP is free again
		upOp(dscpVIP("192.0.2.70", 40)),         // refused: 10.0.0.8's RIP
		upOp(addrVIP("10.0.0.9", "10.0.0.8")),   // refused: a VIP
	}
}

func begin(t *testing.T, m *Manager) *Batch {
	t.Helper()
	b, err := m.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// A batch does what the calls one by one do, call for call (the same
// changes, notes and errors) and in the end (the same system and state
// file), with one replace of the table and one write of the file.
func TestBatchSameAsOneByOne(t *testing.T) {
	one, bat := newFakeSys(), newFakeSys()
	m1, m2 := one.manager(t), bat.manager(t)
	mustUp(t, m1, dscpVIP("10.0.9.9", 9)) // what runs before
	mustUp(t, m2, dscpVIP("10.0.9.9", 9))
	b := begin(t, m2)
	bat.calls = nil
	for i, op := range batchOps() {
		a1, err1 := op.run(m1)
		a2, err2 := op.run(b)
		e1, e2 := strings.ReplaceAll(fmt.Sprint(err1), m1.stateDir, "DIR"), strings.ReplaceAll(fmt.Sprint(err2), m2.stateDir, "DIR")
		if e1 != e2 || fmt.Sprint(a1.Changes) != fmt.Sprint(a2.Changes) || fmt.Sprint(a1.Notes) != fmt.Sprint(a2.Notes) ||
			a1.Config.String() != a2.Config.String() || a1.Codes.String() != a2.Codes.String() {
			t.Fatalf("op %d: one by one %+v, %v\nbatch %+v, %v", i, a1, err1, a2, err2)
		}
	}
	before := stateText(m2)
	if before == "" {
		t.Fatal("the state file before the batch went")
	}
	if bat.calls["Replace"] != 0 || bat.calls["Add"] != 0 {
		t.Fatalf("the table changed before Commit: %v", bat.calls)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	sameSnap(t, "batch against one by one", one.snap(), bat.snap())
	s1, s2 := stateText(m1), stateText(m2)
	if s1 != s2 || s2 == before {
		t.Fatalf("state files differ:\none by one %s\nbatch %s", s1, s2)
	}
	if bat.calls["List"] != 1 || bat.calls["Replace"] != 1 || bat.calls["AddrList"] > 2 || bat.calls["Links"] > 3 {
		t.Fatalf("batch calls %v: want one List and one Replace of the table, the addresses listed at most twice (lo, all for the MSS), the links three times (again after tunl0 was made, and set up)", bat.calls)
	}
	if err := b.Commit(); err != nil || bat.calls["Replace"] != 1 {
		t.Fatalf("a second Commit with nothing new: %v, calls %v", err, bat.calls)
	}
}

// A Commit that fails leaves the table as it was; the calls taken back
// through the batch and a second Commit leave the system as it was.
func TestBatchCommitFails(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.9.9", 9))
	before := f.snap()
	stBefore := stateText(m)
	b := begin(t, m)
	var vips []string
	for i := range 5 {
		c := dscpVIP(fmt.Sprintf("10.0.1.%d", i+1), uint8(i+1))
		if _, err := b.Up(ctx, c, xtrule.Default); err != nil {
			t.Fatal(err)
		}
		vips = append(vips, c.VIP.String())
	}
	f.fail["Replace"] = errBoom
	if err := b.Commit(); !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "replacing the DSCP map of xt_DADDR with its 6 entries") {
		t.Fatalf("Commit = %v", err)
	}
	if len(f.table) != 1 {
		t.Fatalf("the failed Commit changed the table: %v", f.table)
	}
	if st := stateText(m); st != stBefore {
		t.Fatalf("the failed Commit wrote the state:\n%s", st)
	}
	delete(f.fail, "Replace")
	for i := len(vips) - 1; i >= 0; i-- {
		v := vips[i]
		if _, err := b.Down(ctx, netip.MustParseAddr(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	sameSnap(t, "batch taken back", before, f.snap())
	if st := stateText(m); st != stBefore {
		t.Fatalf("the state after taking the batch back:\n%s\nwant\n%s", st, stBefore)
	}
}

// A call that fails in a batch undoes its own changes, and the batch goes
// on from the state before it.
func TestBatchCallFails(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	b := begin(t, m)
	if _, err := b.Up(ctx, dscpVIP("10.0.1.1", 1), xtrule.Default); err != nil {
		t.Fatal(err)
	}
	f.fail["AddrAdd"] = errBoom
	if _, err := b.Up(ctx, dscpVIP("10.0.1.2", 2), xtrule.Default); !errors.Is(err, errBoom) {
		t.Fatalf("Up = %v", err)
	}
	delete(f.fail, "AddrAdd")
	if _, err := b.Up(ctx, dscpVIP("10.0.1.3", 3), xtrule.Default); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.VIPs) != 2 || len(rep.Problems) != 0 || len(f.table) != 2 || f.onLo("10.0.1.2/32") {
		t.Fatalf("after the batch: %+v, %v; table %v", rep, err, f.table)
	}
}

// Another l3dsr process waits for the batch's lock: its Up runs after
// Close and sees what the batch committed.
func TestBatchHoldsTheLock(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	b := begin(t, m)
	done := make(chan error)
	go func() {
		other := f.manager(t)
		other.stateDir = m.stateDir
		unlock, err := lock(other.stateDir)
		if err == nil {
			st, lerr := loadState(other.stateDir)
			unlock()
			if err = lerr; err == nil && len(st.VIPs) != 1 {
				err = fmt.Errorf("the other process saw %d VIPs, want the batch's 1", len(st.VIPs))
			}
		}
		done <- err
	}()
	if _, err := b.Up(ctx, dscpVIP("10.0.1.1", 1), xtrule.Default); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the lock was taken during the batch: %v", err)
	default:
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
