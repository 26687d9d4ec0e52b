package maptable

import (
	"errors"
	"fmt"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Mode is how packets reach a namespace's table: through the --map
// iptables rule, or through the module's own PRE_ROUTING hook, which
// skips the raw table's walk.
type Mode string

const (
	// ModeRule: the -j DADDR --map rule reads the table (the default).
	ModeRule Mode = "rule"
	// ModeDirect: the module's hook reads it, no iptables rule needed.
	ModeDirect Mode = "direct"
	// modeBPF is what a tc-BPF table reports: its program reads it, and
	// neither of the module's paths applies.
	modeBPF Mode = "bpf"
)

// ParseMode reads a mode an operator can set: rule or direct.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeRule, ModeDirect:
		return m, nil
	}
	return "", fmt.Errorf("map path %q is not one of rule, direct: use rule (the -j DADDR --map iptables rule) or direct (the module's own hook)", s)
}

// ModeArg is the mode `rule mode [M]` names: none ("") to show it.
func ModeArg(args []string) (Mode, error) {
	if len(args) == 0 {
		return "", nil
	}
	return ParseMode(args[0])
}

// Hooks says which families' direct hooks are registered (L3DSR_A_HOOKS).
type Hooks uint32

// Has tells whether f's hook is registered.
func (h Hooks) Has(f dsrtypes.Family) bool {
	if f == dsrtypes.IPv6 {
		return h&hookIPv6 != 0
	}
	return h&hookIPv4 != 0
}

// String is "IPv4, IPv6", "IPv4", "IPv6" or "none".
func (h Hooks) String() string {
	var s []string
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		if h.Has(f) {
			s = append(s, f.String())
		}
	}
	if s == nil {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ErrNoDirect is matched by SetMode's error when the loaded module
// predates the direct path.
var ErrNoDirect = errors.New("the loaded xt_DADDR module has no direct path (genl version 2): load this release's module")

// errBPFNoDirect and errBPFNoRule are SetMode's errors on the tc-BPF
// backend.
var (
	errBPFNoDirect = errors.New("the BPF backend has no iptables rule to skip: direct mode is for the module")
	errBPFNoRule   = errors.New("the BPF backend has no map path: its tc program reads the table, and rule mode is for the module")
)

// SetMode switches the namespace's path to m. A module older than the
// direct path is always in rule mode, so setting rule there succeeds and
// setting direct fails matching ErrNoDirect.
func (c *genlTable) SetMode(m Mode) error {
	v := uint8(modeRule)
	if m == ModeDirect {
		v = modeDirect
	} else if m != ModeRule {
		return fmt.Errorf("setting the map path: %w", invalidf("map path %q is not one of rule, direct", m))
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint8(attrMode, v)
	_, err := c.execute(cmdModeSet, netlink.Request|netlink.Acknowledge, ae)
	if err == nil {
		return nil
	}
	var ke *nl.KernelError
	// A version 2 module has no MODE_SET: genetlink says EOPNOTSUPP, and a
	// strict policy refusing the attribute says EINVAL without extack.
	if errors.As(err, &ke) && (ke.Errno == unix.EOPNOTSUPP || ke.Errno == unix.EINVAL && ke.Message == "") {
		if m == ModeRule {
			return nil
		}
		return fmt.Errorf("setting the map path to %s: %w", m, ErrNoDirect)
	}
	return fmt.Errorf("setting the map path to %s: %w", m, err)
}

// SetMode refuses: the program reads the table itself.
func (t *bpfTable) SetMode(m Mode) error {
	if m == ModeRule {
		return errBPFNoRule
	}
	return errBPFNoDirect
}

// Path describes the path in use, as rule list and realserver show print
// it: "direct hook (IPv4, IPv6)", "iptables rule (-t raw PREROUTING -j
// DADDR --map)" or "tc-BPF program".
func (s Stats) Path() string {
	switch s.Mode {
	case ModeDirect:
		return "direct hook (" + s.Hooks.String() + ")"
	case modeBPF:
		return "tc-BPF program"
	}
	return "iptables rule (-t raw PREROUTING -j DADDR --map)"
}
