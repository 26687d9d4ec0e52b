package dscpmark

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
)

// Mark says: packets to VIP, transport protocol Proto, destination port
// Port leave with DSCP code DSCP.
type Mark struct {
	VIP   netip.Addr
	Proto uint8 // unix.IPPROTO_TCP, unix.IPPROTO_UDP or unix.IPPROTO_SCTP
	Port  uint16
	DSCP  uint8
}

// String reads like "tcp 10.0.0.1:80 dscp 21"; an IPv6 VIP is bracketed.
func (m Mark) String() string {
	return fmt.Sprintf("%s dscp %d", m.key(), m.DSCP)
}

// Errors told apart with errors.Is.
var (
	// errInvalid is matched by every error about a bad Mark, found before
	// anything is sent to the kernel.
	errInvalid = errors.New("invalid mark")
	// ErrNotFound: Del or Replace of a (VIP, protocol, port) the table
	// does not hold.
	ErrNotFound = errors.New("no such mark")
	// errConflict: Add of a (VIP, protocol, port) the table holds with
	// another DSCP code.
	errConflict = errors.New("marked with another DSCP code")
)

func invalidf(format string, a ...any) error { return errclass.New(errInvalid, format, a...) }

// protoName names p as dsrtypes does: "tcp", "udp" or "sctp", and for the
// protocols a Mark cannot have (ICMP has no port), a name for messages.
func protoName(p uint8) string { return dsrtypes.Proto(p).String() }

// Validate says what is wrong with m, naming the value and the fix.
func (m Mark) Validate() error {
	if err := checkVIP(m.VIP); err != nil {
		return err
	}
	if !dsrtypes.Proto(m.Proto).Valid() {
		return invalidf("mark for %s port %d: %s is not supported: use tcp, udp or sctp", m.VIP, m.Port, protoName(m.Proto))
	}
	if m.Port == 0 {
		return invalidf("mark %s: port 0 cannot be matched: use a port from 1 to 65535", m.key())
	}
	if m.DSCP > uint8(dsrtypes.MaxDSCP) {
		return invalidf("mark %s: DSCP %d is out of range: use a code from 0 to %d", m.key(), m.DSCP, dsrtypes.MaxDSCP)
	}
	return nil
}

func checkVIP(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return invalidf("mark without a VIP: give the VIP's IPv4 or IPv6 address")
	case a.Zone() != "":
		return invalidf("VIP %s has a zone (%%%s): the mark matches on the address alone, leave the zone out", a, a.Zone())
	case a.Is4In6():
		return invalidf("VIP %s is an IPv4-mapped IPv6 address: write it as %s", a, a.Unmap())
	case a.IsUnspecified():
		return invalidf("VIP %s is the unspecified address: give the VIP's own address", a)
	case a.IsMulticast():
		return invalidf("VIP %s is a multicast address: IPVS balances unicast VIPs only", a)
	}
	return nil
}

// key is what the maps are keyed by: one DSCP code per key.
type key struct {
	vip   netip.Addr
	proto uint8
	port  uint16
}

func (m Mark) key() key { return key{m.VIP, m.Proto, m.Port} }

func (k key) String() string {
	return fmt.Sprintf("%s %s", protoName(k.proto), netip.AddrPortFrom(k.vip, k.port))
}

func compareKeys(a, b key) int {
	// IPv4 before IPv6 (netip.Addr.Compare orders by family first).
	return cmp.Or(a.vip.Compare(b.vip), cmp.Compare(a.proto, b.proto), cmp.Compare(a.port, b.port))
}

// sortMarks orders marks by VIP (IPv4 first), protocol and port, so that
// every list this package returns is stable.
func sortMarks(ms []Mark) {
	slices.SortFunc(ms, func(a, b Mark) int {
		return cmp.Or(compareKeys(a.key(), b.key()), cmp.Compare(a.DSCP, b.DSCP))
	})
}

// collect validates marks and returns them by key. The same key twice
// with the same code is one mark; with two codes it is an error.
func collect(marks []Mark) (map[key]uint8, error) {
	out := make(map[key]uint8, len(marks))
	for _, m := range marks {
		if err := m.Validate(); err != nil {
			return nil, err
		}
		if d, ok := out[m.key()]; ok && d != m.DSCP {
			return nil, invalidf("%s is given twice, with DSCP %d and DSCP %d: give one code per VIP, protocol and port", m.key(), d, m.DSCP)
		}
		out[m.key()] = m.DSCP
	}
	return out, nil
}

func marksOf(byKey map[key]uint8) []Mark {
	out := make([]Mark, 0, len(byKey))
	for k, d := range byKey {
		out = append(out, Mark{VIP: k.vip, Proto: k.proto, Port: k.port, DSCP: d})
	}
	sortMarks(out)
	return out
}
