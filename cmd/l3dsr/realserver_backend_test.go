package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// --backend reaches Up, its line is printed, a bad value and a mixed
// namespace are usage errors.
func TestRealServerUpBackend(t *testing.T) {
	f := withFakeRS(t)
	f.applied = realserver.Applied{Backend: "backend: bpf (xt_DADDR did not load: modprobe xt_DADDR: Key was rejected by service)",
		Changes: []string{"attached the tc-BPF program to eth0 (ingress)"}}
	rc, out, stderr := runCLI("realserver", "up", "--vip", "10.0.0.1", "--dscp", "21", "--backend", "auto")
	if rc != exitOK || f.ups[0].Backend != dsrtypes.BackendAuto {
		t.Fatalf("exit %d (%s), config %+v", rc, stderr, f.ups[0])
	}
	const want = "set up VIP 10.0.0.1 (dscp, DSCP 21):\n  backend: bpf (xt_DADDR did not load: modprobe xt_DADDR: Key was rejected by service)\n  attached the tc-BPF program to eth0 (ingress)\n"
	if out != want {
		t.Errorf("stdout\n%q\nwant\n%q", out, want)
	}
	rc, _, stderr = runCLI("realserver", "up", "--vip", "10.0.0.1", "--dscp", "21", "--backend", "nft")
	if rc != exitUsage || !strings.Contains(stderr, `"--backend" flag: backend "nft": use module (xt_DADDR), bpf (tc-BPF) or auto`) || len(f.ups) != 1 {
		t.Errorf("bad --backend: exit %d, stderr %q", rc, stderr)
	}
	f.err = fmt.Errorf("setting up: --backend bpf: VIP 10.0.0.9 set up with the module backend: %w", realserver.ErrHostInput)
	if rc, _, stderr = runCLI("realserver", "up", "--vip", "10.0.0.1", "--dscp", "21", "--backend", "bpf"); rc != exitUsage {
		t.Errorf("mixed backends: exit %d, stderr %q", rc, stderr)
	}
}
