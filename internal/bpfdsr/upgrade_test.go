package bpfdsr

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// otherBuild is the embedded object with one more instruction in the
// program: another tag, as a new l3dsr would bring.
func otherBuild(t *testing.T) {
	loadSpec = func() (*ebpf.CollectionSpec, error) {
		spec, err := loadL3dsr()
		if err != nil {
			return nil, err
		}
		p := spec.Programs[progName]
		first := p.Instructions[0]
		nop := asm.Mov.Imm(asm.R0, 0).WithMetadata(first.Metadata)
		p.Instructions = append(asm.Instructions{nop, first.WithMetadata(asm.Metadata{})}, p.Instructions[1:]...)
		return spec, nil
	}
	t.Cleanup(func() { loadSpec = loadL3dsr })
}

func progTag(t *testing.T, p *ebpf.Program) (string, ebpf.ProgramID) {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return info.Tag, id
}

// Install over pins of another build swaps the program on every
// attachment and keeps the table with its counters.
func TestUpgrade(t *testing.T) {
	needRoot(t)
	ns, _ := modeSetup(t, modeTCX)
	run(t, "ip", "-n", ns, "link", "add", "c0", "type", "veth", "peer", "name", "c0p")
	old := install(t, ns)
	oldTag, _ := progTag(t, old.prog)
	k := Key{Family: 4, DSCP: 7}
	if err := old.Put(k, Value{VIP: tVIP4, SetDSCP: 255}, false); err != nil {
		t.Fatal(err)
	}
	setCounters(t, old, k, 3)
	inNS(t, ns, func() {
		if _, err := old.Attach("a0"); err != nil {
			t.Fatal(err)
		}
		forceClsact = true
		defer func() { forceClsact = false }()
		if _, err := old.Attach("c0"); err != nil {
			t.Fatal(err)
		}
	})

	otherBuild(t)
	var next *Table
	inNS(t, ns, func() {
		var err error
		if next, err = Install(); err != nil {
			t.Fatalf("Install over another build's pins: %v", err)
		}
	})
	defer next.Close()
	newTag, newID := progTag(t, next.prog)
	if newTag == oldTag {
		t.Fatalf("the program's tag is still %s after the upgrade", oldTag)
	}
	pinned, err := ebpf.LoadPinnedProgram(filepath.Join(next.dir, pinProg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	if tag, _ := progTag(t, pinned); tag != newTag {
		t.Fatalf("the pinned program has tag %s, want the new %s", tag, newTag)
	}
	inNS(t, ns, func() {
		atts, err := next.Attachments()
		if err != nil || len(atts) != 2 {
			t.Fatalf("Attachments after the upgrade: %+v %v, want a0 and c0", atts, err)
		}
		if !haveTCX() {
			return // a0 is by clsact too: checked with c0 below
		}
		l, err := link.LoadPinnedLink(next.linkPin(atts[0].Ifindex), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		info, err := l.Info()
		if err != nil || info.Program != newID {
			t.Fatalf("a0's tcx link runs program %v (%v), want the new %d", info, err, newID)
		}
	})
	clsactDevs := []string{"c0"}
	if !haveTCX() {
		clsactDevs = append(clsactDevs, "a0")
	}
	for _, dev := range clsactDevs {
		if out := run(t, "tc", "-n", ns, "filter", "show", "dev", dev, "ingress"); !strings.Contains(out, "tag "+newTag) {
			t.Fatalf("%s's filter does not run the new program (tag %s):\n%s", dev, newTag, out)
		}
	}
	v, err := next.Get(k)
	if err != nil || v.Packets == 0 {
		t.Fatalf("the entry after the upgrade: %+v %v, want its counters kept", v, err)
	}
	inNS(t, ns, func() {
		if err := Uninstall(); err != nil {
			t.Fatal(err)
		}
	})
	if out := run(t, "tc", "-n", ns, "qdisc", "show", "dev", "c0"); strings.Contains(out, "clsact") {
		t.Fatalf("the clsact l3dsr made on c0 outlived Uninstall:\n%s", out)
	}
}
