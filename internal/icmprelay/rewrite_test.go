package icmprelay

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	rip4 = netip.MustParseAddr("10.0.2.2")
	dir4 = netip.MustParseAddr("10.0.2.1")
	rip6 = netip.MustParseAddr("fd00:2::2")
	dir6 = netip.MustParseAddr("fd00:2::1")
)

func addr(ip net.IP) netip.Addr { a, _ := netip.AddrFromSlice(ip); return a.Unmap() }

// decode4 decodes an IPv4 packet with gopacket and checks its header
// checksum and its ICMP one (gopacket's own sums, not the package's).
func decode4(t *testing.T, b []byte) (*layers.IPv4, gopacket.Packet) {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("decode: %v", el.Error())
	}
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if _, r := ip.VerifyChecksum(); !r.Valid {
		t.Errorf("IPv4 header checksum %#04x, want %#04x", r.Actual, r.Correct)
	}
	return ip, p
}

func decode6(t *testing.T, b []byte) (*layers.IPv6, gopacket.Packet) {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
	ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	return ip, p
}

func verifyICMP6(t *testing.T, ip *layers.IPv6, p gopacket.Packet) {
	t.Helper()
	icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if !ok {
		t.Fatalf("no ICMPv6 in %v", p)
	}
	icmp.SetNetworkLayerForChecksum(ip)
	if err, r := icmp.VerifyChecksum(); err != nil || !r.Valid {
		t.Errorf("ICMPv6 checksum %#04x, want %#04x (%v)", r.Actual, r.Correct, err)
	}
}

func TestToRealDSCP4(t *testing.T) {
	in := build4(t, defSpec4()) // TOS 0x02: ECN ECT(0)
	orig := bytes.Clone(in)
	out, err := toReal(append(in, 0, 0), Target{RIP: rip4, Source: dir4, DSCP: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, orig) {
		t.Error("toReal changed its input")
	}
	ip, p := decode4(t, out)
	if addr(ip.DstIP) != rip4 || addr(ip.SrcIP) != dir4 {
		t.Errorf("%s -> %s, want %s -> %s", ip.SrcIP, ip.DstIP, dir4, rip4)
	}
	if ip.TOS != 10<<2|0x02 {
		t.Errorf("TOS %#02x, want DSCP 10 and ECN 2 kept: %#02x", ip.TOS, 10<<2|2)
	}
	if len(out) != len(orig) || ip.TTL != 60 || ip.Id != 0x1234 {
		t.Errorf("length %d TTL %d ID %#x, want %d 60 0x1234 (padding off, the rest kept)", len(out), ip.TTL, ip.Id, len(orig))
	}
	// The ICMP message is not changed, and its checksum (which does not
	// cover the IP header) still holds.
	if !bytes.Equal(out[20:], orig[20:]) {
		t.Error("ICMP message changed")
	}
	if _, r := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4).VerifyChecksum(); !r.Valid {
		t.Errorf("ICMP checksum %#04x, want %#04x", r.Actual, r.Correct)
	}
	if q, err := parse(out); err == nil {
		t.Errorf("the relayed copy parses as an error to relay (%+v): the relay could loop", q)
	}
}

func TestToRealDSCP6(t *testing.T) {
	orig := build6(t, defSpec6()) // traffic class 0x03: ECN CE
	out, err := toReal(orig, Target{RIP: rip6, Source: dir6, DSCP: 46})
	if err != nil {
		t.Fatal(err)
	}
	ip, p := decode6(t, out)
	if addr(ip.DstIP) != rip6 || addr(ip.SrcIP) != dir6 {
		t.Errorf("%s -> %s, want %s -> %s", ip.SrcIP, ip.DstIP, dir6, rip6)
	}
	if ip.TrafficClass != 46<<2|3 || ip.FlowLabel != 0x12345 || ip.HopLimit != 60 {
		t.Errorf("traffic class %#02x flow label %#x hop limit %d, want %#02x (DSCP 46, ECN 3 kept) 0x12345 60", ip.TrafficClass, ip.FlowLabel, ip.HopLimit, 46<<2|3)
	}
	verifyICMP6(t, ip, p)
	if !bytes.Equal(out[44:], orig[44:]) {
		t.Error("ICMPv6 body (MTU, quote) changed")
	}
}

func TestToRealKeepTOS(t *testing.T) {
	orig4 := build4(t, defSpec4())
	out, err := toReal(orig4, Target{RIP: rip4, Source: dir4, DSCP: 10, KeepTOS: true})
	if err != nil {
		t.Fatal(err)
	}
	ip, _ := decode4(t, out)
	if ip.TOS != 0x02 || addr(ip.DstIP) != rip4 {
		t.Errorf("TOS %#02x to %s, want 0x02 to %s", ip.TOS, ip.DstIP, rip4)
	}
	orig6 := build6(t, defSpec6())
	// Zero source: the router's stays.
	out, err = toReal(orig6, Target{RIP: rip6, KeepTOS: true})
	if err != nil {
		t.Fatal(err)
	}
	ip6, p := decode6(t, out)
	if ip6.TrafficClass != 0x03 || addr(ip6.DstIP) != rip6 || addr(ip6.SrcIP) != router6 {
		t.Errorf("traffic class %#02x %s -> %s, want 0x03 %s -> %s", ip6.TrafficClass, ip6.SrcIP, ip6.DstIP, router6, rip6)
	}
	verifyICMP6(t, ip6, p)
}

func TestToRealTunnel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        []byte
		rip, src  netip.Addr
		proto     layers.IPProtocol
		outerIPv4 bool
	}{
		{"IPIP", build4(t, defSpec4()), rip4, dir4, layers.IPProtocolIPv4, true},
		{"IP6IP6", build6(t, defSpec6()), rip6, dir6, layers.IPProtocolIPv6, false},
		{"IPv6 in IPv4", build6(t, defSpec6()), rip4, dir4, layers.IPProtocolIPv6, true},
		{"IPv4 in IPv6", build4(t, defSpec4()), rip6, dir6, layers.IPProtocolIPv4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := toReal(append(bytes.Clone(tc.in), 0, 0, 0), Target{RIP: tc.rip, Source: tc.src, Tunnel: true, DSCP: 10})
			if err != nil {
				t.Fatal(err)
			}
			hl := 40
			if tc.outerIPv4 {
				hl = 20
				ip, _ := decode4(t, out[:20+len(tc.in)])
				if addr(ip.SrcIP) != tc.src || addr(ip.DstIP) != tc.rip || ip.Protocol != tc.proto || ip.TTL != 64 || int(ip.Length) != len(out) {
					t.Errorf("outer %s -> %s proto %d TTL %d length %d, want %s -> %s proto %d TTL 64 length %d",
						ip.SrcIP, ip.DstIP, ip.Protocol, ip.TTL, ip.Length, tc.src, tc.rip, tc.proto, len(out))
				}
			} else {
				ip, _ := decode6(t, out)
				if addr(ip.SrcIP) != tc.src || addr(ip.DstIP) != tc.rip || ip.NextHeader != tc.proto || ip.HopLimit != 64 || int(ip.Length) != len(out)-40 {
					t.Errorf("outer %s -> %s next header %d hop limit %d length %d, want %s -> %s %d 64 %d",
						ip.SrcIP, ip.DstIP, ip.NextHeader, ip.HopLimit, ip.Length, tc.src, tc.rip, tc.proto, len(out)-40)
				}
			}
			if !bytes.Equal(out[hl:], tc.in) {
				t.Errorf("inner packet changed (or padding kept): %d bytes, want the %d sent", len(out)-hl, len(tc.in))
			}
		})
	}
}

func TestToRealRefuses(t *testing.T) {
	in4, in6 := build4(t, defSpec4()), build6(t, defSpec6())
	for _, tc := range []struct {
		name string
		in   []byte
		t    Target
		want string
	}{
		{"malformed", in4[:30], Target{RIP: rip4}, "IPv4 total length"},
		{"no RIP", in4, Target{}, "relay target has no real server address"},
		{"DSCP 64", in4, Target{RIP: rip4, DSCP: 64}, "DSCP code 64 out of range 0-63"},
		{"family", in4, Target{RIP: rip6, DSCP: 1}, "cannot send an IPv4 ICMP error to real server fd00:2::2 without a tunnel"},
		{"source family", in6, Target{RIP: rip6, Source: dir4}, "relay source 10.0.2.1 and real server fd00:2::2 are of two families"},
		{"tunnel without source", in6, Target{RIP: rip6, Tunnel: true}, "tunnel to real server fd00:2::2 needs the director's source address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := toReal(tc.in, tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("toReal: %x, %v; want an error containing %q", out, err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(build4(f, defSpec4()))
	f.Add(build6(f, defSpec6()))
	s := defSpec6()
	s.proto, s.quote = layers.IPProtocolUDP, 300
	f.Add(build6(f, s))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := parse(b)
		if err != nil {
			return
		}
		for _, tg := range []Target{{RIP: rip4, Source: dir4, DSCP: 5}, {RIP: rip6, Source: dir6, DSCP: 5}, {RIP: rip4, Source: dir4, Tunnel: true}, {RIP: rip6, Source: dir6, Tunnel: true}} {
			out, err := toReal(b, tg)
			if err != nil {
				continue
			}
			if tg.Tunnel || q.VIP == tg.RIP {
				continue
			}
			// A dscp copy stays a valid error about the same flow, but
			// addressed to the real: parse refuses it (no relay loop).
			if _, err := parse(out); err == nil || !strings.Contains(err.Error(), "not a router's answer") {
				t.Fatalf("copy of %+v to %v parses: %v", q, tg.RIP, err)
			}
		}
	})
}
