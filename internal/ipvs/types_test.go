package ipvs

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProtocolNames(t *testing.T) {
	for p, name := range map[Protocol]string{ProtoTCP: "tcp", ProtoUDP: "udp", ProtoSCTP: "sctp", 256 + 6: "proto(262)"} {
		if p.String() != name {
			t.Errorf("Protocol(%d) = %q, want %q", uint16(p), p.String(), name)
		}
	}
	if ProtoTCP != 6 || ProtoUDP != 17 || ProtoSCTP != 132 {
		t.Errorf("protocol numbers %d %d %d, want 6 17 132", ProtoTCP, ProtoUDP, ProtoSCTP)
	}
	if s := Protocol(1).String(); s != "proto(1)" {
		t.Errorf("Protocol(1) = %q", s)
	}
}

func TestForwardMethodNames(t *testing.T) {
	want := map[ForwardMethod]string{Masquerade: "masq", Local: "local", Tunnel: "tunnel", Route: "route", 7: "fwd(7)"}
	for f, name := range want {
		if f.String() != name {
			t.Errorf("%d.String() = %q, want %q", uint32(f), f.String(), name)
		}
		if f > Route {
			continue
		}
		if got, err := parseForwardMethod(strings.ToUpper(name)); err != nil || got != f {
			t.Errorf("parseForwardMethod(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := parseForwardMethod("dr"); err == nil || !strings.Contains(err.Error(), "use masq, local, tunnel or route") {
		t.Errorf("parseForwardMethod(dr) = %v", err)
	}
	if TunnelGUE.String() != "gue" || TunnelType(9).String() != "tun(9)" {
		t.Errorf("tunnel names %q %q", TunnelGUE, TunnelType(9))
	}
}

func TestServiceNames(t *testing.T) {
	for s, want := range map[ServiceFlags]string{
		0:                               "none",
		FlagPersistent | flagHashed:     "persistent|hashed",
		FlagOnePacket | flagSchedMHPort: "one-packet|sched2",
		FlagSched3 | 0x100:              "sched3|0x100",
	} {
		if s.String() != want {
			t.Errorf("flags %#x = %q, want %q", uint32(s), s.String(), want)
		}
	}
	for s, want := range map[*Service]string{
		{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80}:    "tcp 10.0.0.1:80",
		{Protocol: ProtoUDP, Address: addr("2001:db8::1"), Port: 53}: "udp [2001:db8::1]:53",
		{FWMark: 7}:                        "fwmark 7 (IPv4)",
		{Family: unix.AF_INET6, FWMark: 8}: "fwmark 8 (IPv6)",
	} {
		if s.String() != want {
			t.Errorf("%+v.String() = %q, want %q", *s, s.String(), want)
		}
	}
	if v := versionString(0x010201); v != "1.2.1" {
		t.Errorf("versionString = %q", v)
	}
}
