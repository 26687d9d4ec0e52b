package icmprelay

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	router4 = netip.MustParseAddr("203.0.113.1")
	vip4    = netip.MustParseAddr("192.0.2.10")
	client4 = netip.MustParseAddr("198.51.100.7")
	router6 = netip.MustParseAddr("2001:db8:ff::1")
	vip6    = netip.MustParseAddr("2001:db8::10")
	client6 = netip.MustParseAddr("2001:db8:99::7")
)

// spec is an ICMP error to build: sent from the router to dst, about a
// reply from src:sport to dstq:dport.
type spec struct {
	router, dst, src, client netip.Addr
	proto                    layers.IPProtocol
	sport, dport             uint16
	mtu                      uint32
	tos                      uint8 // outer TOS / traffic class
	quote                    int   // bytes of the quoted packet kept; 0: 28 (v4) or 48 (v6)
}

func defSpec4() spec {
	return spec{router: router4, dst: vip4, src: vip4, client: client4, proto: layers.IPProtocolTCP, sport: 80, dport: 40001, mtu: 1400, tos: 0x02}
}

func defSpec6() spec {
	return spec{router: router6, dst: vip6, src: vip6, client: client6, proto: layers.IPProtocolTCP, sport: 443, dport: 40002, mtu: 1280, tos: 0x03}
}

func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// l4 is the quoted transport header with its ports, and a payload.
func l4(s spec, ip gopacket.NetworkLayer) []gopacket.SerializableLayer {
	pl := gopacket.Payload(make([]byte, 1000))
	switch s.proto {
	case layers.IPProtocolUDP:
		u := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		u.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{u, pl}
	case layers.IPProtocolSCTP:
		return []gopacket.SerializableLayer{&layers.SCTP{SrcPort: layers.SCTPPort(s.sport), DstPort: layers.SCTPPort(s.dport)}, pl}
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), ACK: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{tcp, pl}
}

func build4(t testing.TB, s spec) []byte {
	t.Helper()
	qip := &layers.IPv4{Version: 4, TTL: 63, Protocol: s.proto, Flags: layers.IPv4DontFragment, SrcIP: net.IP(s.src.AsSlice()), DstIP: net.IP(s.client.AsSlice())}
	q := ser(t, append([]gopacket.SerializableLayer{qip}, l4(s, qip)...)...)
	n := s.quote
	if n == 0 {
		n = 28
	}
	q = q[:n]
	ip := &layers.IPv4{Version: 4, TOS: s.tos, Id: 0x1234, TTL: 60, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP(s.router.AsSlice()), DstIP: net.IP(s.dst.AsSlice())}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4), Seq: uint16(s.mtu)}
	return ser(t, ip, icmp, gopacket.Payload(q))
}

func build6(t testing.TB, s spec) []byte {
	t.Helper()
	qip := &layers.IPv6{Version: 6, HopLimit: 63, NextHeader: s.proto, SrcIP: net.IP(s.src.AsSlice()), DstIP: net.IP(s.client.AsSlice())}
	q := ser(t, append([]gopacket.SerializableLayer{qip}, l4(s, qip)...)...)
	n := s.quote
	if n == 0 {
		n = 48
	}
	q = q[:n]
	ip := &layers.IPv6{Version: 6, TrafficClass: s.tos, FlowLabel: 0x12345, HopLimit: 60, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.IP(s.router.AsSlice()), DstIP: net.IP(s.dst.AsSlice())}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(2, 0)}
	icmp.SetNetworkLayerForChecksum(ip)
	return ser(t, ip, icmp, gopacket.Payload(append(binary.BigEndian.AppendUint32(nil, s.mtu), q...)))
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  func(t testing.TB) []byte
		want Quoted
	}{
		{"IPv4 TCP", func(t testing.TB) []byte { return build4(t, defSpec4()) },
			Quoted{Client: client4, VIP: vip4, Proto: 6, ClientPort: 40001, VIPPort: 80, MTU: 1400}},
		{"IPv4 UDP, link padding", func(t testing.TB) []byte {
			s := defSpec4()
			s.proto, s.mtu = layers.IPProtocolUDP, 576
			return append(build4(t, s), 0, 0, 0, 0)
		}, Quoted{Client: client4, VIP: vip4, Proto: 17, ClientPort: 40001, VIPPort: 80, MTU: 576}},
		{"IPv4 SCTP, long quote", func(t testing.TB) []byte {
			s := defSpec4()
			s.proto, s.quote = layers.IPProtocolSCTP, 548
			return build4(t, s)
		}, Quoted{Client: client4, VIP: vip4, Proto: 132, ClientPort: 40001, VIPPort: 80, MTU: 1400}},
		{"IPv6 TCP", func(t testing.TB) []byte { return build6(t, defSpec6()) },
			Quoted{Client: client6, VIP: vip6, Proto: 6, ClientPort: 40002, VIPPort: 443, MTU: 1280}},
		{"IPv6 UDP", func(t testing.TB) []byte {
			s := defSpec6()
			s.proto, s.quote, s.mtu = layers.IPProtocolUDP, 1000, 1300
			return build6(t, s)
		}, Quoted{Client: client6, VIP: vip6, Proto: 17, ClientPort: 40002, VIPPort: 443, MTU: 1300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(tc.pkt(t))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("parse: %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	other := netip.MustParseAddr("192.0.2.99")
	for _, tc := range []struct {
		name string
		pkt  func(t testing.TB) []byte
		want string
	}{
		{"empty", func(testing.TB) []byte { return nil }, "empty packet"},
		{"version 5", func(t testing.TB) []byte { p := build4(t, defSpec4()); p[0] = 0x55; return p }, "IP version 5, want 4 or 6"},
		{"short IPv4", func(t testing.TB) []byte { return build4(t, defSpec4())[:19] }, "IPv4 packet of 19 bytes, shorter than its header"},
		{"IPv4 cut", func(t testing.TB) []byte { return build4(t, defSpec4())[:50] }, "IPv4 total length 56, but 50 bytes with a header of 20"},
		{"IPv4 bad header checksum", func(t testing.TB) []byte { p := build4(t, defSpec4()); p[10] ^= 1; return p }, "IPv4 header checksum"},
		{"IPv4 fragment", func(t testing.TB) []byte { return refix4(build4(t, defSpec4()), func(p []byte) { p[6] |= 0x20 }) }, "IPv4 packet is a fragment (flags and offset 0x2000)"},
		{"IPv4 later fragment", func(t testing.TB) []byte { return refix4(build4(t, defSpec4()), func(p []byte) { p[7] = 3 }) }, "IPv4 packet is a fragment (flags and offset 0x0003)"},
		{"IPv4 not ICMP", func(t testing.TB) []byte { return refix4(build4(t, defSpec4()), func(p []byte) { p[9] = 17 }) }, "IPv4 protocol 17, not ICMP"},
		{"ICMP echo", func(t testing.TB) []byte {
			return refixICMP4(build4(t, defSpec4()), func(m []byte) { m[0], m[1] = 8, 0 })
		}, "ICMP type 8 code 0, not fragmentation needed (3/4)"},
		{"ICMP port unreachable", func(t testing.TB) []byte { return refixICMP4(build4(t, defSpec4()), func(m []byte) { m[1] = 3 }) }, "ICMP type 3 code 3"},
		{"ICMP bad checksum", func(t testing.TB) []byte { p := build4(t, defSpec4()); p[22] ^= 0xff; return p }, "ICMP checksum"},
		{"ICMP truncated quote", func(t testing.TB) []byte { s := defSpec4(); s.quote = 27; return build4(t, s) }, "quoted IPv4 packet of 27 bytes with a header of 20: want 8 bytes of its transport header"},
		{"ICMP quote not IP", func(t testing.TB) []byte { s := defSpec4(); s.quote = 12; return build4(t, s) }, "quoted packet of 12 bytes is not an IPv4 header"},
		{"IPv4 quote of ICMP", func(t testing.TB) []byte { s := defSpec4(); s.proto = layers.IPProtocolICMPv4; return build4(t, s) }, "quoted protocol 1, not TCP, UDP or SCTP"},
		{"IPv4 not to the quote's source", func(t testing.TB) []byte { s := defSpec4(); s.dst = other; return build4(t, s) }, "ICMP error sent to 192.0.2.99 about a packet from 192.0.2.10"},
		{"short IPv6", func(t testing.TB) []byte { return build6(t, defSpec6())[:39] }, "IPv6 packet of 39 bytes, shorter than its header"},
		{"IPv6 cut", func(t testing.TB) []byte { return build6(t, defSpec6())[:90] }, "IPv6 payload length 56, but 50 bytes after the header"},
		{"IPv6 fragment", func(t testing.TB) []byte { p := build6(t, defSpec6()); p[6] = 44; return p }, "IPv6 packet is a fragment"},
		{"IPv6 extension header", func(t testing.TB) []byte { p := build6(t, defSpec6()); p[6] = 0; return p }, "IPv6 next header 0, not ICMPv6"},
		{"ICMPv6 echo", func(t testing.TB) []byte { p := build6(t, defSpec6()); p[40] = 128; return p }, "ICMPv6 type 128 code 0, not packet too big (2/0)"},
		{"ICMPv6 bad checksum", func(t testing.TB) []byte { p := build6(t, defSpec6()); p[60] ^= 1; return p }, "ICMPv6 checksum"},
		{"ICMPv6 truncated quote", func(t testing.TB) []byte { s := defSpec6(); s.quote = 47; return build6(t, s) }, "quoted IPv6 packet of 47 bytes with headers of 40: want 8"},
		{"IPv6 not to the quote's source", func(t testing.TB) []byte { s := defSpec6(); s.dst = client6; return build6(t, s) }, "ICMP error sent to 2001:db8:99::7 about a packet from 2001:db8::10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parse(tc.pkt(t))
			if err == nil {
				t.Fatalf("parse: %+v, want an error containing %q", q, tc.want)
			}
			if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parse: %v, want errMalformed and %q", err, tc.want)
			}
		})
	}
}

// refix4 changes the outer IPv4 header and fixes its checksum, so that
// only the change is refused.
func refix4(p []byte, f func([]byte)) []byte {
	f(p)
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	return p
}

// refixICMP4 changes the ICMP message and fixes its checksum.
func refixICMP4(p []byte, f func([]byte)) []byte {
	m := p[20:]
	f(m)
	m[2], m[3] = 0, 0
	binary.BigEndian.PutUint16(m[2:], checksum(m, 0))
	return p
}
