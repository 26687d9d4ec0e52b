package realserver

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"golang.org/x/sys/unix"
)

// fakeBPF is the tc-BPF backend of one namespace.
type fakeBPF struct {
	pinned   bool
	attached map[string]bool
	calls    []string
	// failAttach makes attaching to that link fail.
	failAttach string
}

func (b *fakeBPF) installed() (bool, error) { return b.pinned, nil }
func (b *fakeBPF) install() error {
	b.calls, b.pinned = append(b.calls, "install"), true
	return nil
}
func (b *fakeBPF) uninstall() error {
	b.calls, b.pinned, b.attached = append(b.calls, "uninstall"), false, map[string]bool{}
	return nil
}
func (b *fakeBPF) attach(name string) (bool, error) {
	b.calls = append(b.calls, "attach "+name)
	if name == b.failAttach {
		return false, errors.New("no clsact on " + name)
	}
	if b.attached[name] {
		return false, nil
	}
	b.attached[name] = true
	return true, nil
}
func (b *fakeBPF) detach(name string) error {
	b.calls = append(b.calls, "detach "+name)
	delete(b.attached, name)
	return nil
}
func (b *fakeBPF) attachments() ([]Attachment, error) {
	var out []Attachment
	for _, n := range slices.Backward(slices.Sorted(maps.Keys(b.attached))) { // the kernel's order: any
		out = append(out, Attachment{Ifname: n, Mode: "tcx"})
	}
	return out, nil
}

// bpfHost is a fake host with eth0 and eth1, whose modprobe answers
// modErr.
func bpfHost(t *testing.T, modErr error) (*fakeSys, *fakeBPF, *Manager) {
	f := newFakeSys()
	f.links = append(f.links, rtnl.Link{Index: 3, Name: "eth1", Flags: unix.IFF_UP, MTU: 1500})
	b := &fakeBPF{attached: map[string]bool{}}
	m := f.manager(t)
	m.bpf = b
	m.loadModule = func(context.Context) error { b.calls = append(b.calls, "modprobe"); return modErr }
	return f, b, m
}

func withBackend(c Config, b dsrtypes.Backend) Config { c.Backend = b; return c }

func TestBackendAutoPicksModule(t *testing.T) {
	f, b, m := bpfHost(t, nil)
	a := mustUp(t, m, withBackend(dscpVIP("10.0.0.1", 21), dsrtypes.BackendAuto))
	if a.Backend != "backend: module (xt_DADDR loaded)" {
		t.Errorf("Backend line %q", a.Backend)
	}
	if f.rules[xtrule.IPv4] != 1 || !slices.Equal(b.calls, []string{"modprobe"}) {
		t.Errorf("module: rules %v, bpf calls %q", f.rules, b.calls)
	}
	var out bytes.Buffer
	WriteApplied(&out, "set up", a)
	if !strings.Contains(out.String(), ":\n  backend: module (xt_DADDR loaded)\n  added 10.0.0.1/32 to lo\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestBackendAutoPicksBPF(t *testing.T) {
	lockdown := errors.New("modprobe xt_DADDR: modprobe: ERROR: could not insert 'xt_DADDR': Key was rejected by service")
	f, b, m := bpfHost(t, lockdown)
	a := mustUp(t, m, withBackend(dscpVIP("10.0.0.1", 21), dsrtypes.BackendAuto))
	if want := "backend: bpf (xt_DADDR did not load: modprobe xt_DADDR: modprobe: ERROR: could not insert 'xt_DADDR': Key was rejected by service)"; a.Backend != want {
		t.Errorf("Backend line\n got %q\nwant %q", a.Backend, want)
	}
	want := []string{
		"added 10.0.0.1/32 to lo",
		"set net.ipv4.conf.all.arp_ignore = 1 (was 0)",
		"set net.ipv4.conf.all.rp_filter = 2 (was 1)",
		"loaded the tc-BPF program and pinned its maps",
		"attached the tc-BPF program to eth0 (ingress)",
		"attached the tc-BPF program to eth1 (ingress)",
		"mapped IPv4 DSCP 21 local any -> VIP 10.0.0.1",
	}
	if !slices.Equal(a.Changes, want) {
		t.Errorf("changes:\n got %q\nwant %q", a.Changes, want)
	}
	if f.rules[xtrule.IPv4] != 0 || len(f.table) != 1 {
		t.Errorf("bpf wrote an iptables rule (%v) or not the entry (%v)", f.rules, f.table)
	}
	// The record says bpf; a later up without --backend keeps it, and
	// changes nothing.
	st, err := m.load()
	if err != nil || st.VIPs[0].Backend != dsrtypes.BackendBPF {
		t.Fatalf("record: %+v, %v", st.VIPs, err)
	}
	b.calls = nil
	if again := mustUp(t, m, dscpVIP("10.0.0.1", 21)); len(again.Changes) != 0 || again.Backend != "backend: bpf" {
		t.Errorf("second up: %q, %q", again.Changes, again.Backend)
	}
	if !slices.Equal(b.calls, []string{"attach eth0", "attach eth1"}) {
		t.Errorf("second up's calls %q", b.calls)
	}
	rep, err := m.Show(ctx, "")
	if err != nil || attachList(rep.Attachments) != "eth0 (tcx), eth1 (tcx)" {
		t.Errorf("show's attachments %q, %v", attachList(rep.Attachments), err)
	}
}

func TestBackendBPFIngressAndDown(t *testing.T) {
	f, b, m := bpfHost(t, nil)
	before := f.snap()
	ing := Ingress{"eth1"}
	if _, err := m.UpIngress(ctx, withBackend(dscpVIP("10.0.0.1", 21), dsrtypes.BackendBPF), "", &ing); err != nil {
		t.Fatal(err)
	}
	mustUp(t, m, withBackend(dscpVIP("10.0.0.2", 22), dsrtypes.BackendBPF))
	if !slices.Equal(slices.Sorted(maps.Keys(b.attached)), []string{"eth1"}) || f.rules[xtrule.IPv4] != 0 {
		t.Fatalf("attached %v, rules %v", b.attached, f.rules)
	}
	rep, err := m.Show(ctx, "")
	if err != nil || rep.Backend != dsrtypes.BackendBPF || len(rep.Attachments) != 1 || rep.Attachments[0].Ifname != "eth1" {
		t.Errorf("show: backend %q attachments %+v, %v", rep.Backend, rep.Attachments, err)
	}
	if len(rep.Problems) != 0 || len(rep.VIPs) != 2 || !rep.VIPs[0].Rule || !rep.VIPs[1].Rule {
		t.Errorf("show on bpf: problems %+v, VIPs %+v", rep.Problems, rep.VIPs)
	}
	var out bytes.Buffer
	if err := WriteReport(&out, rep, "table"); err != nil || !strings.Contains(out.String(), "\nbackend: bpf, attached to eth1 (tcx)\n") {
		t.Errorf("show output %v:\n%s", err, out.String())
	}
	if d := mustDown(t, m, "10.0.0.1"); slices.Contains(b.calls, "uninstall") {
		t.Fatalf("down of one of two VIPs uninstalled: %q", d.Changes)
	}
	d := mustDown(t, m, "10.0.0.2")
	if b.pinned || len(b.attached) != 0 || !slices.Contains(d.Changes, "detached the tc-BPF program and unpinned its maps (the last VIP that used them)") {
		t.Errorf("last down: pinned %v attached %v changes %q", b.pinned, b.attached, d.Changes)
	}
	sameSnap(t, "up then down on bpf", before, f.snap())
}

func TestBackendMixRefused(t *testing.T) {
	f, b, m := bpfHost(t, nil)
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	file := filepath.Join(m.stateDir, stateFile)
	rec, _ := os.ReadFile(file)
	snap := f.snap()
	_, err := m.Up(ctx, withBackend(dscpVIP("10.0.0.2", 22), dsrtypes.BackendBPF), "")
	const want = "--backend bpf: VIP 10.0.0.1 set up with the module backend, and a network namespace has one table: take them down first ('l3dsr realserver down --vip ADDR'), or use --backend module"
	if !errors.Is(err, ErrHostInput) || err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	after, _ := os.ReadFile(file)
	sameSnap(t, "refused up", snap, f.snap())
	if !bytes.Equal(rec, after) || len(b.calls) != 0 {
		t.Errorf("refused up changed the record or called bpf: %q", b.calls)
	}
	// ipip needs no table: any backend is fine beside the module's VIPs.
	if _, err := m.Up(ctx, withBackend(Config{VIP: dscpVIP("10.0.0.3", 0).VIP, Mode: dsrtypes.ModeDR}, dsrtypes.BackendBPF), ""); err != nil {
		t.Errorf("dr VIP with --backend bpf: %v", err)
	}
}

func TestBackendValidate(t *testing.T) {
	err := withBackend(dscpVIP("10.0.0.1", 21), "nft").Validate()
	if err == nil || err.Error() != `backend "nft" is unknown: use module, bpf or auto` {
		t.Errorf("Validate: %v", err)
	}
}

// apply's check of the host pieces does not ask for the module when the
// VIPs are to run on bpf (or auto, which falls back to it).
func TestBackendCheckPieces(t *testing.T) {
	dial := func() (maptable.Table, error) { return nil, errors.New("no xt_DADDR") }
	for b, fails := range map[dsrtypes.Backend]bool{"": true, dsrtypes.BackendModule: true, dsrtypes.BackendBPF: false, dsrtypes.BackendAuto: false} {
		err := CheckPieces(ctx, []Config{withBackend(dscpVIP("10.0.0.1", 3), b)}, dial, nil)
		if (err != nil) != fails {
			t.Errorf("backend %q: %v", b, err)
		}
	}
}

// EnsureBPF (rule add --backend bpf) installs and attaches to every link
// but lo, says so, changes nothing the second time, and undoes it all when
// an attach fails.
func TestEnsureBPF(t *testing.T) {
	_, b, m := bpfHost(t, nil)
	changes, err := m.EnsureBPF()
	want := []string{"loaded the tc-BPF program and pinned its maps", "attached the tc-BPF program to eth0 (ingress)", "attached the tc-BPF program to eth1 (ingress)"}
	if err != nil || !slices.Equal(changes, want) {
		t.Fatalf("EnsureBPF: %q, %v; want %q", changes, err, want)
	}
	if changes, err = m.EnsureBPF(); err != nil || len(changes) != 0 {
		t.Errorf("second EnsureBPF: %q, %v; want no change", changes, err)
	}

	_, b, m = bpfHost(t, nil)
	b.failAttach = "eth1"
	_, err = m.EnsureBPF()
	if err == nil || !strings.Contains(err.Error(), "attaching the tc-BPF program to eth1: no clsact on eth1") {
		t.Errorf("EnsureBPF with eth1 failing: %v", err)
	}
	if b.pinned || len(b.attached) != 0 {
		t.Errorf("after the failure: pinned %v, attached %v; want nothing left (calls %q)", b.pinned, b.attached, b.calls)
	}
}
