package doctor

import (
	"errors"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/realserver"
)

// bpfHost is cleanHost served by the tc-BPF backend: no module, no
// map-mode rule, the program on eth0 and eth1 (the links with addresses).
func bpfHost() (*fakeHost, *Expect) {
	h, e := cleanHost()
	h.modules["xt_DADDR"] = false
	h.rules = nil
	h.bpf = &bpfState{installed: true, attached: []string{"eth0", "eth1"}}
	return h, e
}

func TestBackendBPFServesTheTable(t *testing.T) {
	h, e := bpfHost()
	rep := run(t, h, e)
	if len(rep.Findings) != 0 || rep.Backend != "bpf" {
		t.Fatalf("BPF host with the program everywhere: backend %q findings %+v, want bpf and none (no module, no map rule needed)", rep.Backend, rep.Findings)
	}
}

func TestBackendBPFProgramMissingOnALink(t *testing.T) {
	h, e := bpfHost()
	h.bpf.attached = []string{"eth0"}
	rep := run(t, h, e)
	want := []found{{"backend", "problem", "l3dsr apply -f " + testFile + " (it attaches the program to the ingress interfaces; the agent also attaches links that appear later)"}}
	if got := foundOf(rep); !slices.Equal(got, want) {
		t.Fatalf("findings %+v, want %+v", got, want)
	}
	if rep.Findings[0].What != "the tc-BPF program is not attached to eth1" {
		t.Errorf("what: %q", rep.Findings[0].What)
	}
}

func TestBackendBPFHonoursTheIngressList(t *testing.T) {
	h, e := bpfHost()
	h.rs.Ingress = realserver.Ingress{"eth1"}
	h.bpf.attached = []string{"eth1"}
	if rep := run(t, h, e); len(rep.Findings) != 0 {
		t.Fatalf("--ingress eth1, the program on eth1 only: findings %+v, want none", rep.Findings)
	}
	h.bpf.attached = []string{"eth0"}
	rep := run(t, h, e)
	if len(rep.Findings) != 1 || rep.Findings[0].What != "the tc-BPF program is not attached to eth1" {
		t.Fatalf("--ingress eth1, the program on eth0 only: findings %+v, want one about eth1", rep.Findings)
	}
}

func TestBackendNone(t *testing.T) {
	for _, tc := range []struct {
		name string
		bpf  bpfState
		fix  string
	}{
		{"bpffs mounted", bpfState{},
			"modprobe xt_DADDR, or put backend: bpf in the realserver section of " + testFile + ", then l3dsr apply -f " + testFile},
		{"no bpffs", bpfState{noFS: errors.New("no bpffs is mounted on /sys/fs/bpf")},
			"modprobe xt_DADDR, or mount -t bpf bpf /sys/fs/bpf, put backend: bpf in the realserver section of " + testFile + ", then l3dsr apply -f " + testFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, e := cleanHost()
			h.modules["xt_DADDR"] = false
			h.bpf = &tc.bpf
			rep := run(t, h, e)
			want := []found{{"module", "problem", tc.fix}}
			if got := foundOf(rep); !slices.Equal(got, want) || rep.Backend != "" {
				t.Fatalf("backend %q findings %+v, want none and %+v", rep.Backend, got, want)
			}
			if rep.Findings[0].What != "no backend serves the table: the xt_DADDR module is not loaded and the tc-BPF backend is not installed" {
				t.Errorf("what: %q", rep.Findings[0].What)
			}
		})
	}
}
