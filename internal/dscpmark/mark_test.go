package dscpmark

import (
	"errors"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestValidate(t *testing.T) {
	a := netip.MustParseAddr
	ok := []Mark{
		{VIP: a("10.0.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 21},
		{VIP: a("2001:db8::1"), Proto: unix.IPPROTO_UDP, Port: 65535, DSCP: 0},
		{VIP: a("192.0.2.1"), Proto: unix.IPPROTO_SCTP, Port: 1, DSCP: 63},
	}
	for _, m := range ok {
		if err := m.Validate(); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
	bad := []struct {
		m    Mark
		says []string
	}{
		{Mark{VIP: a("10.0.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 64}, []string{"DSCP 64", "0 to 63", "tcp 10.0.0.1:80"}},
		{Mark{VIP: a("10.0.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 255}, []string{"DSCP 255"}},
		{Mark{VIP: a("10.0.0.1"), Proto: unix.IPPROTO_UDP, Port: 0, DSCP: 1}, []string{"port 0", "1 to 65535"}},
		{Mark{VIP: a("10.0.0.1"), Proto: unix.IPPROTO_ICMP, Port: 1, DSCP: 1}, []string{"icmp", "tcp, udp or sctp"}},
		{Mark{VIP: a("2001:db8::1"), Proto: unix.IPPROTO_ICMPV6, Port: 1, DSCP: 1}, []string{"ipv6-icmp"}},
		{Mark{VIP: a("10.0.0.1"), Proto: 99, Port: 1, DSCP: 1}, []string{"protocol 99"}},
		{Mark{Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 1}, []string{"without a VIP"}},
		{Mark{VIP: a("0.0.0.0"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 1}, []string{"0.0.0.0", "unspecified"}},
		{Mark{VIP: a("::"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 1}, []string{"::", "unspecified"}},
		{Mark{VIP: a("224.0.0.5"), Proto: unix.IPPROTO_UDP, Port: 80, DSCP: 1}, []string{"224.0.0.5", "multicast"}},
		{Mark{VIP: a("ff02::1"), Proto: unix.IPPROTO_UDP, Port: 80, DSCP: 1}, []string{"ff02::1", "multicast"}},
		{Mark{VIP: a("::ffff:10.0.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 1}, []string{"IPv4-mapped", "write it as 10.0.0.1"}},
		{Mark{VIP: a("fe80::1%eth0"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 1}, []string{"zone", "eth0"}},
	}
	for _, c := range bad {
		err := c.m.Validate()
		if !errors.Is(err, errInvalid) {
			t.Errorf("%v: want an errInvalid error, got %v", c.m, err)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%v: error %q does not say %q", c.m, err, s)
			}
		}
	}
}

// A mark's protocol is read by dsrtypes.ParseProto: the numbers must be the
// ones nftables matches on.
func TestParseProto(t *testing.T) {
	for s, want := range map[string]uint8{"tcp": unix.IPPROTO_TCP, "UDP": unix.IPPROTO_UDP, "Sctp": unix.IPPROTO_SCTP} {
		if got, err := dsrtypes.ParseProto(s); err != nil || uint8(got) != want {
			t.Errorf("ParseProto(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	if _, err := dsrtypes.ParseProto("icmp"); !errors.Is(err, dsrtypes.ErrInvalid) || !strings.Contains(err.Error(), `"icmp"`) {
		t.Errorf(`ParseProto("icmp"): want an ErrInvalid naming "icmp", got %v`, err)
	}
	if got := protoName(unix.IPPROTO_ICMPV6); got != "ipv6-icmp" {
		t.Errorf("protoName(ICMPv6) = %q", got)
	}
}

func TestMarkString(t *testing.T) {
	for m, want := range map[Mark]string{
		{VIP: netip.MustParseAddr("10.0.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 21}:   "tcp 10.0.0.1:80 dscp 21",
		{VIP: netip.MustParseAddr("2001:db8::1"), Proto: unix.IPPROTO_UDP, Port: 53, DSCP: 0}: "udp [2001:db8::1]:53 dscp 0",
	} {
		if got := m.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestCollect(t *testing.T) {
	a := Mark{VIP: netip.MustParseAddr("10.0.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 21}
	got, err := collect([]Mark{a, a})
	if err != nil || len(got) != 1 || got[a.key()] != 21 {
		t.Errorf("collect of one mark twice: got %v, %v; want the one mark", got, err)
	}
	b := a
	b.DSCP = 22
	_, err = collect([]Mark{a, b})
	if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), "DSCP 21 and DSCP 22") {
		t.Errorf("collect of one key with two codes: want an errInvalid naming both codes, got %v", err)
	}
}

func TestElemKey(t *testing.T) {
	a := netip.MustParseAddr
	for _, c := range []struct {
		k    key
		want string
	}{
		// As `nft --debug=netlink` prints the elements (32-bit words, host
		// order): "element 0100500a 00000006 00005000" and
		// "element b80d0120 00008000 00000000 01000000 00000011 00000700".
		{key{a("10.80.0.1"), unix.IPPROTO_TCP, 80}, "0100500a 00000006 00005000"},
		{key{a("2001:db8:80::1"), unix.IPPROTO_UDP, 7}, "b80d0120 00008000 00000000 01000000 00000011 00000700"},
	} {
		b := elemKey(c.k)
		if got := nftWords(b); got != c.want {
			t.Errorf("elemKey(%v) = %s, want %s", c.k, got, c.want)
		}
		back, err := parseElemKey(b)
		if err != nil || back != c.k {
			t.Errorf("parseElemKey(elemKey(%v)) = %v, %v", c.k, back, err)
		}
	}
	if _, err := parseElemKey(make([]byte, 8)); err == nil || !strings.Contains(err.Error(), "8 bytes") {
		t.Errorf("parseElemKey of 8 bytes: want an error naming the length, got %v", err)
	}
}

func TestDSCPChainNames(t *testing.T) {
	for _, c := range []struct {
		name string
		is4  bool
		d    uint8
		ok   bool
	}{
		{"dscp4_0", true, 0, true},
		{"dscp4_63", true, 63, true},
		{"dscp6_22", false, 22, true},
		{"dscp4_64", false, 0, false},
		{"dscp4_07", false, 0, false},
		{"dscp4_", false, 0, false},
		{"dscp_1", false, 0, false},
		{"prerouting", false, 0, false},
	} {
		is4, d, ok := parseDSCPChain(c.name)
		if ok != c.ok || (ok && (is4 != c.is4 || d != c.d)) {
			t.Errorf("parseDSCPChain(%q) = %v, %d, %v; want %v, %d, %v", c.name, is4, d, ok, c.is4, c.d, c.ok)
		}
		if ok && dscpChain(is4, d) != c.name {
			t.Errorf("dscpChain(%v, %d) = %q, want %q", is4, d, dscpChain(is4, d), c.name)
		}
	}
}
