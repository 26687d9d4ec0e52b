package realserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// pathView is the fake module with a map path: its calls go to log, with
// the rule deletes, so that a test sees their order.
type pathView struct {
	tableView
	mode *maptable.Mode
	log  *[]string
}

func (p pathView) SetMode(m maptable.Mode) error {
	*p.log = append(*p.log, "kernel "+string(m))
	*p.mode = m
	return nil
}

func (p pathView) Stats() (maptable.Stats, error) {
	st := maptable.Stats{Mode: *p.mode}
	if *p.mode == maptable.ModeDirect {
		for k := range p.table {
			st.Hooks |= maptable.Hooks(1 << (k.Family / 10)) // IPv4 (2): bit 0, IPv6 (10): bit 1
		}
	}
	return st, nil
}

type pathRules struct {
	rulesView
	log *[]string
}

func (r pathRules) Delete(ctx context.Context, fam xtrule.Family) error {
	*r.log = append(*r.log, "delete rule "+fam.String())
	return r.rulesView.Delete(ctx, fam)
}

func (r pathRules) Ensure(ctx context.Context, fam xtrule.Family) (bool, error) {
	*r.log = append(*r.log, "ensure rule "+fam.String())
	return r.rulesView.Ensure(ctx, fam)
}

func pathManager(t *testing.T, f *fakeSys) (*Manager, *maptable.Mode, *[]string) {
	m := f.manager(t)
	mode, log := maptable.ModeRule, &[]string{}
	m.dialTable = func() (Table, error) { return pathView{tableView{f}, &mode, log}, nil }
	m.newRules = func(xtrule.Variant, Ingress) Rules { return pathRules{rulesView{f}, log} }
	return m, &mode, log
}

// map_path direct: the kernel is switched before l3dsr's rule goes, the
// entry is added without a rule, and show says the path.
func TestUpMapPathDirect(t *testing.T) {
	ctx := context.Background()
	f := newFakeSys()
	m, mode, log := pathManager(t, f)
	if _, err := m.Up(ctx, dscpVIP("10.0.0.1", 21), xtrule.Default); err != nil {
		t.Fatal(err)
	}
	if f.rules[xtrule.IPv4] != 1 {
		t.Fatalf("rule mode: IPv4 rules %d, want 1", f.rules[xtrule.IPv4])
	}
	*log = nil
	c := dscpVIP("10.0.0.2", 22)
	c.MapPath = maptable.ModeDirect
	a, err := m.Up(ctx, c, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*log, ", "); got != "kernel direct, delete rule IPv4" || *mode != maptable.ModeDirect || f.rules[xtrule.IPv4] != 0 {
		t.Errorf("calls %q, mode %s, IPv4 rules %d; want the kernel switched first, then the rule deleted", got, *mode, f.rules[xtrule.IPv4])
	}
	if !strings.Contains(strings.Join(a.Changes, "\n"), "map path set to direct") {
		t.Errorf("changes %q", a.Changes)
	}
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MapPath == nil || rep.MapPath.Path != "direct hook (IPv4)" || !rep.MapPath.Hooked(dsrtypes.IPv4) || len(rep.Problems) != 0 {
		t.Errorf("show: path %+v, problems %+v; want direct hook (IPv4) and no missing-rule problem", rep.MapPath, rep.Problems)
	}
	var text, js strings.Builder
	if WriteReport(&text, rep, "table") != nil || !strings.Contains(text.String(), "\npath: direct hook (IPv4)\n") {
		t.Errorf("show text:\n%s", text.String())
	}
	if WriteReport(&js, rep, "json") != nil || !strings.Contains(js.String(), `"map_path": {
    "mode": "direct",
    "hooks": [
      "ipv4"
    ],
    "path": "direct hook (IPv4)"
  }`) {
		t.Errorf("show json:\n%s", js.String())
	}

	// Back to rule: the rule first, then the kernel.
	*log = nil
	c.MapPath = maptable.ModeRule
	if _, err := m.Up(ctx, c, xtrule.Default); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*log, ", "); got != "ensure rule IPv4, kernel rule, ensure rule IPv4" || f.rules[xtrule.IPv4] != 1 {
		t.Errorf("calls %q, IPv4 rules %d; want the rule back before the kernel's switch", got, f.rules[xtrule.IPv4])
	}
}

// A failure after the switch switches back.
func TestUpMapPathUndo(t *testing.T) {
	ctx := context.Background()
	f := newFakeSys()
	m, mode, _ := pathManager(t, f)
	f.fail["Add"] = errors.New("ENOSPC")
	c := dscpVIP("10.0.0.1", 21)
	c.MapPath = maptable.ModeDirect
	if _, err := m.Up(ctx, c, xtrule.Default); err == nil {
		t.Fatal("want the add's error")
	}
	if *mode != maptable.ModeRule {
		t.Errorf("mode %s after a failed up, want rule again", *mode)
	}
}

func TestMapPathRefusals(t *testing.T) {
	c := dscpVIP("10.0.0.1", 21)
	c.MapPath, c.Backend = maptable.ModeDirect, dsrtypes.BackendBPF
	if err := c.Validate(); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), "the BPF backend has no iptables rule to skip: direct mode is for the module") {
		t.Errorf("direct on bpf: %v", err)
	}
	c.MapPath, c.Backend = "fast", ""
	if err := c.Validate(); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), `"fast" is not one of rule, direct`) {
		t.Errorf("fast: %v", err)
	}
}

// The ingress limit lives in the rules: direct would lift it, so it is
// refused.
func TestMapPathDirectRefusesIngress(t *testing.T) {
	m, mode, log := pathManager(t, newFakeSys())
	var tx txn
	err := m.switchPath(context.Background(), Ingress{"eth0"}, maptable.ModeDirect, &tx, xtrule.Default)
	if !errors.Is(err, ErrHostInput) || !strings.Contains(err.Error(), "map_path direct with ingress eth0") || *mode != maptable.ModeRule || len(*log) != 0 {
		t.Errorf("err %v, mode %s, calls %v", err, *mode, *log)
	}
}

// A batch (apply) in direct mode adds no rule: its table passes the
// module's path through.
func TestBatchDirectAddsNoRule(t *testing.T) {
	ctx := context.Background()
	f := newFakeSys()
	m, mode, _ := pathManager(t, f)
	*mode = maptable.ModeDirect
	b, err := m.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []Config{dscpVIP("10.0.0.1", 21), dscpVIP("10.0.0.2", 22)} {
		if _, err := b.Up(ctx, c, xtrule.Default); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if f.rules[xtrule.IPv4] != 0 || len(f.table) != 2 {
		t.Errorf("IPv4 rules %d, entries %d; want no rule and both entries", f.rules[xtrule.IPv4], len(f.table))
	}
}

// hookless is the module in direct mode with no hook registered.
type hookless struct{ pathView }

func (hookless) Stats() (maptable.Stats, error) {
	return maptable.Stats{Mode: maptable.ModeDirect}, nil
}

func TestShowDirectWithoutHook(t *testing.T) {
	ctx := context.Background()
	f := newFakeSys()
	m, mode, log := pathManager(t, f)
	if _, err := m.Up(ctx, dscpVIP("10.0.0.1", 21), xtrule.Default); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.dialTable = func() (Table, error) { return hookless{pathView{tableView{f}, mode, log}}, nil }
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].What != "the map path is direct but the module has no IPv4 hook: marked packets are not rewritten" {
		t.Errorf("problems %+v, want the missing IPv4 hook", rep.Problems)
	}
}
