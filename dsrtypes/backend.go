package dsrtypes

import "strings"

// Backend is what rewrites a real server's packets back to their VIP.
type Backend string

const (
	// BackendModule is the xt_DADDR kernel module and its iptables rule.
	BackendModule Backend = "module"
	// BackendBPF is the tc-BPF program on the ingress interfaces: no
	// module, so it works under Secure Boot's lockdown.
	BackendBPF Backend = "bpf"
	// BackendAuto is the module when xt_DADDR loads, else BPF.
	BackendAuto Backend = "auto"
)

// ParseBackend accepts "module", "bpf" and "auto", in any case; "" is
// the zero Backend, which the caller replaces with its default.
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(strings.ToLower(strings.TrimSpace(s))); b {
	case "", BackendModule, BackendBPF, BackendAuto:
		return b, nil
	case "xt_daddr", "kmod", "kernel":
		return BackendModule, nil
	case "tc", "ebpf", "tc-bpf":
		return BackendBPF, nil
	}
	return "", invalidf("backend %q: use module (xt_DADDR), bpf (tc-BPF) or auto (the module when it loads, else bpf)", s)
}

func (b Backend) String() string { return string(b) }

// Set and Type make *Backend a pflag.Value.
func (b *Backend) Set(s string) error { return set(b, ParseBackend, s) }

// Type names the value in flag help.
func (*Backend) Type() string { return "module|bpf|auto" }
