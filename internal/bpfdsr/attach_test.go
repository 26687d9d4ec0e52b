package bpfdsr

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// modeSetup gives a test a bpffs, attaches by mode, and two namespaces
// joined by a veth pair (vethPair).
func modeSetup(t *testing.T, mode string) (ns, peer string) {
	t.Helper()
	tempBPFFS(t)
	if mode == modeClsact {
		withClsact(t)
	}
	ns, peer = newNS(t), newNS(t)
	vethPair(t, ns, peer)
	return ns, peer
}

// withClsact runs the test's attaches through clsact on a kernel with tcx.
func withClsact(t *testing.T) {
	forceClsact = true
	t.Cleanup(func() { forceClsact = false })
}

// haveTCX tells whether this kernel has tcx (6.6+): querying tcx ingress
// on lo is refused where it has not.
func haveTCX() bool {
	_, err := link.QueryPrograms(link.QueryOptions{Target: 1, Attach: ebpf.AttachTCXIngress})
	return err == nil
}

// kernelModes are the attach modes this kernel has: both where it has
// tcx (clsact forced), clsact alone where not (6.1).
func kernelModes(t *testing.T) []string {
	if haveTCX() {
		return []string{modeTCX, modeClsact}
	}
	t.Log("this kernel has no tcx (Linux 6.6+): clsact only")
	return []string{modeClsact}
}

// tcxProgs is how many programs are on ifname's tcx ingress (0 on a
// kernel without tcx).
func tcxProgs(t *testing.T, ns, ifname string) int {
	t.Helper()
	if !haveTCX() {
		return 0
	}
	n := -1
	inNS(t, ns, func() {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		r, err := link.QueryPrograms(link.QueryOptions{Target: ifc.Index, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			t.Fatal(err)
		}
		n = len(r.Programs)
	})
	return n
}

func TestInstallRoundTrip(t *testing.T) {
	needRoot(t)
	root := tempBPFFS(t)
	ns, peer := newNS(t), newNS(t)
	vethPair(t, ns, peer)
	run(t, "ip", "-n", ns, "link", "add", "a1", "type", "veth", "peer", "name", "a1p")
	tb := install(t, ns)
	// a0 by tcx where the kernel has it: a link pin; clsact has none.
	a0Mode, linkPin := modeClsact, ""
	if haveTCX() {
		a0Mode = modeTCX
	}

	var dir string
	inNS(t, ns, func() {
		ok, err := Installed()
		if err != nil || !ok {
			t.Fatalf("Installed after Install: %v %v", ok, err)
		}
		// A second Install opens the same maps.
		again, err := Install()
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if err := again.Put(Key{Family: 4, DSCP: 1}, Value{VIP: tVIP4, SetDSCP: 255}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := tb.Get(Key{Family: 4, DSCP: 1}); err != nil {
			t.Fatalf("an entry put through a second Install: %v", err)
		}
		dir, _ = pinDir()

		if changed, err := tb.Attach("a0"); err != nil || !changed {
			t.Fatalf("Attach a0 (%s): %v %v", a0Mode, changed, err)
		}
		if changed, err := tb.Attach("a0"); err != nil || changed {
			t.Fatalf("second Attach a0: changed %v, err %v; want false, nil", changed, err)
		}
		forceClsact = true
		changed, err := tb.Attach("a1")
		forceClsact = false
		if err != nil || !changed {
			t.Fatalf("Attach a1 (clsact): %v %v", changed, err)
		}
		atts, err := tb.Attachments()
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, a := range atts {
			got = append(got, a.Ifname+"/"+a.Mode)
		}
		if want := "a0/" + a0Mode + " a1/clsact"; strings.Join(got, " ") != want {
			t.Fatalf("Attachments: %v, want %s", got, want)
		}
	})
	if !strings.HasPrefix(dir, filepath.Join(root, "l3dsr", "netns-")) {
		t.Fatalf("pin dir %s is not under %s/l3dsr/netns-", dir, root)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	a0 := run(t, "ip", "-n", ns, "-o", "link", "show", "a0")
	if a0Mode == modeTCX {
		linkPin = "link-" + strings.SplitN(a0, ":", 2)[0] + " "
	}
	if want := "carried " + linkPin + "meta owned present prog tables totals"; strings.Join(names, " ") != want {
		t.Fatalf("pins: %v, want %s", names, want)
	}
	if n := tcxProgs(t, ns, "a0"); a0Mode == modeTCX && n != 1 {
		t.Fatalf("%d programs on a0's tcx ingress, want 1", n)
	}
	clsactDevs := []string{"a1"}
	if a0Mode == modeClsact {
		clsactDevs = append(clsactDevs, "a0")
	}
	for _, dev := range clsactDevs {
		if out := run(t, "tc", "-n", ns, "filter", "show", "dev", dev, "ingress"); !strings.Contains(out, "l3dsr_ingress") || !strings.Contains(out, "pref 3477") || !strings.Contains(out, "direct-action") {
			t.Fatalf("%s has no filter of ours:\n%s", dev, out)
		}
	}

	inNS(t, ns, func() {
		if err := Uninstall(); err != nil {
			t.Fatal(err)
		}
		if err := Uninstall(); err != nil {
			t.Fatalf("Uninstall with nothing installed: %v", err)
		}
		if _, err := Open(); !errors.Is(err, errNotInstalled) {
			t.Fatalf("Open after Uninstall: %v, want errNotInstalled", err)
		}
	})
	if _, err := os.Stat(filepath.Join(root, "l3dsr")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s/l3dsr is still there after Uninstall: %v", root, err)
	}
	if n := tcxProgs(t, ns, "a0"); n != 0 {
		t.Fatalf("%d programs on a0's tcx ingress after Uninstall, want 0", n)
	}
	if out := run(t, "tc", "-n", ns, "qdisc", "show", "dev", "a1"); strings.Contains(out, "clsact") {
		t.Fatalf("the clsact l3dsr created on a1 is still there:\n%s", out)
	}
}

// foreignProg is a tc program that is not ours: it counts the packets it
// sees in its own map and passes them on.
func foreignProg(t *testing.T) (*ebpf.Program, *ebpf.Map) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SchedCLS,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.StoreImm(asm.RFP, -4, 0, asm.Word),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, -1).WithSymbol("out"),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, m
}

func count(t *testing.T, m *ebpf.Map) uint64 {
	t.Helper()
	var n uint64
	if err := m.Lookup(uint32(0), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ping sends two UDP datagrams from ns to 10.9.0.1 (no one listens: the
// ICMP errors that come back are fine, tc ingress has seen them).
func ping(t *testing.T, ns string) {
	t.Helper()
	for range 2 {
		sendWithDSCP(t, ns, "10.9.0.1", 0)
	}
}

// foreignFilter puts p at ingress pref 1 of ifname as cls_bpf "foreign".
func foreignFilter(t *testing.T, ns, ifname string, p *ebpf.Program) {
	t.Helper()
	inNS(t, ns, func() {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: ifc.Index, Parent: netlink.HANDLE_MIN_INGRESS, Handle: 1, Protocol: unix.ETH_P_ALL, Priority: 1},
			Fd:          p.FD(), Name: "foreign", DirectAction: true,
		}
		if err := netlink.FilterAdd(f); err != nil {
			t.Fatal(err)
		}
	})
}

// A foreign filter (and with tcx a foreign tcx program) and a clsact we
// did not create stay, and keep counting, through Attach, Detach and
// Uninstall: for tcx and clsact.
func TestCoexistence(t *testing.T) {
	for _, mode := range kernelModes(t) {
		t.Run(mode, func(t *testing.T) {
			needRoot(t)
			ns, peer := modeSetup(t, mode)
			run(t, "tc", "-n", ns, "qdisc", "add", "dev", "a0", "clsact")
			fp, fm := foreignProg(t)
			foreignFilter(t, ns, "a0", fp)
			tp, tm := foreignProg(t)
			if mode == modeTCX {
				inNS(t, ns, func() {
					ifc, _ := net.InterfaceByName("a0")
					l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: tp, Attach: ebpf.AttachTCXIngress})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { l.Close() })
				})
			}
			check := func(when string) {
				t.Helper()
				f0, t0 := count(t, fm), count(t, tm)
				ping(t, peer)
				if n := count(t, fm); n < f0+2 {
					t.Fatalf("%s: the foreign filter counted %d then %d packets: want 2 more", when, f0, n)
				}
				if n := count(t, tm); mode == modeTCX && n < t0+2 {
					t.Fatalf("%s: the foreign tcx program counted %d then %d packets: want 2 more", when, t0, n)
				}
			}
			inNS(t, ns, func() {
				if _, err := tb(t, ns).Attach("a0"); err != nil {
					t.Fatal(err)
				}
			})
			check("attached")
			inNS(t, ns, func() {
				tbl := tb(t, ns)
				atts, err := tbl.Attachments()
				if err != nil || len(atts) != 1 || atts[0].Mode != mode {
					t.Fatalf("Attachments: %+v %v, want a0 by %s", atts, err, mode)
				}
				if err := tbl.Detach("a0"); err != nil {
					t.Fatal(err)
				}
				if err := tbl.Detach("a0"); err != nil {
					t.Fatalf("Detach when not attached: %v", err)
				}
				if atts, err := tbl.Attachments(); err != nil || len(atts) != 0 {
					t.Fatalf("Attachments after Detach: %+v %v", atts, err)
				}
			})
			check("detached")
			inNS(t, ns, func() {
				if _, err := tb(t, ns).Attach("a0"); err != nil {
					t.Fatal(err)
				}
				if err := Uninstall(); err != nil {
					t.Fatal(err)
				}
			})
			check("uninstalled")
			if out := run(t, "tc", "-n", ns, "qdisc", "show", "dev", "a0"); !strings.Contains(out, "clsact") {
				t.Fatalf("the clsact we did not create is gone:\n%s", out)
			}
			out := run(t, "tc", "-n", ns, "filter", "show", "dev", "a0", "ingress")
			if strings.Contains(out, "l3dsr") || !strings.Contains(out, "foreign") {
				t.Fatalf("a0's filters after Uninstall, want the foreign one only:\n%s", out)
			}
			if n := tcxProgs(t, ns, "a0"); mode == modeTCX && n != 1 {
				t.Fatalf("%d programs on a0's tcx ingress after Uninstall, want the foreign one", n)
			}
		})
	}
}

// tb opens the table of ns (the caller is in ns), closed when the test ends.
func tb(t *testing.T, ns string) *Table {
	t.Helper()
	tbl, err := Install()
	if err != nil {
		t.Fatalf("Install in %s: %v", ns, err)
	}
	t.Cleanup(func() { tbl.Close() })
	return tbl
}

// Our pref taken by a foreign filter, and an "ingress" qdisc, are errors
// that leave them alone.
func TestClsactRefuses(t *testing.T) {
	needRoot(t)
	tempBPFFS(t)
	withClsact(t)
	ns := newNS(t)
	run(t, "ip", "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d0p")
	run(t, "ip", "-n", ns, "link", "add", "d1", "type", "veth", "peer", "name", "d1p")
	run(t, "tc", "-n", ns, "qdisc", "add", "dev", "d0", "clsact")
	run(t, "tc", "-n", ns, "filter", "add", "dev", "d0", "ingress", "pref", "3477", "u32", "match", "u32", "0", "0")
	run(t, "tc", "-n", ns, "qdisc", "add", "dev", "d1", "ingress")
	tb := install(t, ns)
	inNS(t, ns, func() {
		_, err := tb.Attach("d0")
		if err == nil || !strings.Contains(err.Error(), "ingress pref 3477 of d0 is taken by a filter l3dsr did not add") {
			t.Fatalf("Attach with our pref taken: %v", err)
		}
		_, err = tb.Attach("d1")
		if err == nil || !strings.Contains(err.Error(), `d1 has an "ingress" qdisc at ingress, not clsact`) {
			t.Fatalf("Attach over an ingress qdisc: %v", err)
		}
		if _, err := tb.Attach("nosuch0"); err == nil || !strings.Contains(err.Error(), "attaching to nosuch0") {
			t.Fatalf("Attach to a missing interface: %v", err)
		}
	})
	if out := run(t, "tc", "-n", ns, "filter", "show", "dev", "d0", "ingress"); !strings.Contains(out, "u32") || strings.Contains(out, "l3dsr") {
		t.Fatalf("d0's filters after the refusal:\n%s", out)
	}
	if out := run(t, "tc", "-n", ns, "qdisc", "show", "dev", "d1"); !strings.Contains(out, "qdisc ingress") {
		t.Fatalf("d1's ingress qdisc after the refusal:\n%s", out)
	}
}

func TestTwoNamespaces(t *testing.T) {
	needRoot(t)
	tempBPFFS(t)
	ns1, ns2 := newNS(t), newNS(t)
	t1, t2 := install(t, ns1), install(t, ns2)
	if t1.dir == t2.dir {
		t.Fatalf("both namespaces pin at %s", t1.dir)
	}
	if err := t1.Put(Key{Family: 4, DSCP: 9}, Value{VIP: tVIP4, SetDSCP: 255}, false); err != nil {
		t.Fatal(err)
	}
	l2, err := t2.List()
	if err != nil || len(l2) != 0 {
		t.Fatalf("the second namespace's table: %+v %v, want empty", l2, err)
	}
	var m1, m2 l3dsrL3dsrMeta
	t1.meta.Lookup(uint32(0), &m1)
	t2.meta.Lookup(uint32(0), &m2)
	if m1.NetnsCookie == 0 || m1.NetnsCookie == m2.NetnsCookie {
		t.Fatalf("cookies %d and %d: want two different ones", m1.NetnsCookie, m2.NetnsCookie)
	}
	if !strings.HasSuffix(t1.dir, "netns-"+strconv.FormatUint(m1.NetnsCookie, 10)) {
		t.Fatalf("pin dir %s is not named by the cookie %d", t1.dir, m1.NetnsCookie)
	}
	inNS(t, ns2, func() {
		if err := Uninstall(); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := t1.Get(Key{Family: 4, DSCP: 9}); err != nil {
		t.Fatalf("the first namespace's entry after the second's Uninstall: %v", err)
	}
	inNS(t, ns1, func() {
		if ok, err := Installed(); !ok || err != nil {
			t.Fatalf("the first namespace after the second's Uninstall: installed %v, %v", ok, err)
		}
	})
}

// The link pin of an interface that is gone does not pass for an
// attachment of a new interface with its ifindex.
func TestAttachOverAStaleLinkPin(t *testing.T) {
	needRoot(t)
	if !haveTCX() {
		t.Log("tcx links only (Linux 6.6+): this kernel attaches by clsact, which pins no link to go stale; nothing to test")
		return
	}
	tempBPFFS(t)
	ns := newNS(t)
	run(t, "ip", "-n", ns, "link", "add", "x0", "index", "50", "type", "veth", "peer", "name", "x0p")
	tbl := install(t, ns)
	inNS(t, ns, func() {
		if _, err := tbl.Attach("x0"); err != nil {
			t.Fatal(err)
		}
	})
	run(t, "ip", "-n", ns, "link", "del", "x0")
	run(t, "ip", "-n", ns, "link", "add", "y0", "index", "50", "type", "veth", "peer", "name", "y0p")
	inNS(t, ns, func() {
		changed, err := tbl.Attach("y0")
		if err != nil || !changed {
			t.Fatalf("Attach y0 over x0's stale pin: changed %v, %v; want true", changed, err)
		}
	})
	if n := tcxProgs(t, ns, "y0"); n != 1 {
		t.Fatalf("%d programs on y0's tcx ingress, want 1", n)
	}
}
