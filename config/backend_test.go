package config

import (
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

const backendFile = "realserver:\n  backend: bpf\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n    - vip: 10.0.0.2\n      mode: ipip\n    - vip: 10.0.0.3\n      mode: addr\n      rip: 192.0.2.50\n"

// The key gives the table-using VIPs their backend, and survives a save.
func TestBackendKey(t *testing.T) {
	f := mustParse(t, backendFile)
	var got []dsrtypes.Backend
	for _, v := range f.realServer.VIPs {
		got = append(got, v.Config.Backend)
	}
	if want := []dsrtypes.Backend{"bpf", "", "bpf"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("backends %q, want %q", got, want)
	}
	out, err := Marshal(f, "")
	if err != nil || !strings.HasPrefix(string(out), "realserver:\n  backend: bpf\n  vips:\n") {
		t.Errorf("saved (%v):\n%s", err, out)
	}
	if out, _ := Marshal(mustParse(t, ingressFile), ""); strings.Contains(string(out), "backend") {
		t.Errorf("no backend key, none saved:\n%s", out)
	}
}

func TestBackendKeyErrors(t *testing.T) {
	for in, want := range map[string]string{
		"nft":   `t:2: backend "nft": use module (xt_DADDR), bpf (tc-BPF) or auto (the module when it loads, else bpf)`,
		"[bpf]": "t:2: backend must be a single value, not a list",
	} {
		_, err := parseFile("t", []byte("realserver:\n  backend: "+in+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %q", in, err, want)
		}
	}
}
