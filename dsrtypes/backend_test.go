package dsrtypes

import "testing"

func TestParseBackend(t *testing.T) {
	for in, want := range map[string]Backend{"": "", "module": BackendModule, " BPF ": BackendBPF, "Auto": BackendAuto, "xt_DADDR": BackendModule, "tc": BackendBPF} {
		if got, err := ParseBackend(in); err != nil || got != want {
			t.Errorf("ParseBackend(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	var b Backend
	err := b.Set("nft")
	const msg = `backend "nft": use module (xt_DADDR), bpf (tc-BPF) or auto (the module when it loads, else bpf)`
	if err == nil || err.Error() != msg || b != "" {
		t.Errorf("Set(nft) = %v, b %q; want %q", err, b, msg)
	}
	if err := b.Set("bpf"); err != nil || b.String() != "bpf" {
		t.Errorf("Set(bpf): %v, b %q", err, b)
	}
}
