//go:build linux

package dscpmark

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wireTopo: sender ── marker (forwards, holds the marks) ── receiver.
// The receiver owns no VIP: its AF_PACKET socket sees what the marker
// forwarded, which is what a real server behind a director would get.
type wireTopo struct {
	snd, mrk, rcv *testNS
}

func newWireTopo(t *testing.T) *wireTopo {
	w := &wireTopo{snd: newNS(t), mrk: newNS(t), rcv: newNS(t)}
	link := func(a *testNS, an string, b *testNS, bn string) {
		if out, err := runHost("ip", "link", "add", an, "netns", a.name, "type", "veth", "peer", "name", bn, "netns", b.name); err != nil {
			t.Fatalf("veth %s/%s: %v: %s", an, bn, err, out)
		}
		// No duplicate address detection: addresses are usable at once.
		a.run("sysctl", "-q", "-w", "net.ipv6.conf."+an+".accept_dad=0")
		b.run("sysctl", "-q", "-w", "net.ipv6.conf."+bn+".accept_dad=0")
	}
	link(w.snd, "s0", w.mrk, "m0")
	link(w.mrk, "m1", w.rcv, "r0")
	for _, c := range [][]string{
		{"ip", "addr", "add", "10.99.1.2/24", "dev", "s0"},
		{"ip", "addr", "add", "fd00:1::2/64", "dev", "s0", "nodad"},
		{"ip", "link", "set", "s0", "up"},
		{"ip", "route", "add", "default", "via", "10.99.1.1"},
		{"ip", "-6", "route", "add", "default", "via", "fd00:1::1"},
	} {
		w.snd.run(c...)
	}
	for _, c := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
		{"ip", "addr", "add", "10.99.1.1/24", "dev", "m0"},
		{"ip", "addr", "add", "fd00:1::1/64", "dev", "m0", "nodad"},
		{"ip", "addr", "add", "10.99.2.1/24", "dev", "m1"},
		{"ip", "addr", "add", "fd00:2::1/64", "dev", "m1", "nodad"},
		{"ip", "link", "set", "m0", "up"},
		{"ip", "link", "set", "m1", "up"},
		{"ip", "route", "add", "10.80.0.0/24", "via", "10.99.2.2"},
		{"ip", "-6", "route", "add", "2001:db8:80::/64", "via", "fd00:2::2"},
	} {
		w.mrk.run(c...)
	}
	for _, c := range [][]string{
		{"ip", "addr", "add", "10.99.2.2/24", "dev", "r0"},
		{"ip", "addr", "add", "fd00:2::2/64", "dev", "r0", "nodad"},
		{"ip", "link", "set", "r0", "up"},
	} {
		w.rcv.run(c...)
	}
	return w
}

// flow is what the receiver tells packets apart by.
type flow struct {
	dst   netip.Addr
	proto uint8
	dport uint16
}

func (f flow) String() string {
	return fmt.Sprintf("%s %s", protoName(f.proto), netip.AddrPortFrom(f.dst, f.dport))
}

// seen is the first packet of a flow at the receiver.
type seen struct {
	tos    uint8 // IPv4 TOS or IPv6 traffic class: DSCP<<2 | ECN
	csumOK bool  // IPv4 header checksum (always true for IPv6)
}

// capture opens an AF_PACKET socket on the receiver's r0 (network layer
// up: SOCK_DGRAM) and returns a function that reads until every flow in
// want was seen or the time is up.
func (w *wireTopo) capture(t *testing.T) func(want []flow, limit time.Duration) map[flow]seen {
	var fd int
	err := w.rcv.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	idx := w.rcv.ifindex("r0")
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx}); err != nil {
		t.Fatalf("binding the capture to r0: %v", err)
	}
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return func(want []flow, limit time.Duration) map[flow]seen {
		got := map[flow]seen{}
		buf := make([]byte, 65536)
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			missing := false
			for _, f := range want {
				if _, ok := got[f]; !ok {
					missing = true
				}
			}
			if !missing {
				break
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				t.Fatalf("capture: %v", err)
			}
			f, s, ok := parsePacket(buf[:n])
			if _, dup := got[f]; ok && !dup {
				got[f] = s
			}
		}
		return got
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (ns *testNS) ifindex(name string) int {
	ns.t.Helper()
	out := ns.run("cat", "/sys/class/net/"+name+"/ifindex")
	var i int
	if _, err := fmt.Sscan(strings.TrimSpace(out), &i); err != nil {
		ns.t.Fatalf("ifindex of %s: %q: %v", name, out, err)
	}
	return i
}

func parsePacket(b []byte) (flow, seen, bool) {
	if len(b) < 1 {
		return flow{}, seen{}, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return flow{}, seen{}, false
		}
		ihl := int(b[0]&0x0f) * 4
		if len(b) < ihl+4 || binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return flow{}, seen{}, false // short, or a non-first fragment
		}
		var sum uint32
		for i := 0; i < ihl; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		dst, _ := netip.AddrFromSlice(b[16:20])
		return flow{dst, b[9], binary.BigEndian.Uint16(b[ihl+2:])}, seen{tos: b[1], csumOK: sum == 0xffff}, true
	case 6:
		if len(b) < 44 {
			return flow{}, seen{}, false
		}
		dst, _ := netip.AddrFromSlice(b[24:40])
		tc := b[0]<<4 | b[1]>>4
		return flow{dst, b[6], binary.BigEndian.Uint16(b[42:])}, seen{tos: tc, csumOK: true}, true
	}
	return flow{}, seen{}, false
}

// send sends, from the sender, one UDP datagram or one TCP SYN to each
// flow with the given TOS/traffic class; the TCP sockets stay open (so
// the SYN is retransmitted) until the test ends.
func (w *wireTopo) send(t *testing.T, tos uint8, flows ...flow) {
	err := w.snd.do(func() error {
		for _, f := range flows {
			fam, lvl, opt := unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_TCLASS
			var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: f.dst.As16(), Port: int(f.dport)}
			if f.dst.Is4() {
				fam, lvl, opt = unix.AF_INET, unix.IPPROTO_IP, unix.IP_TOS
				sa = &unix.SockaddrInet4{Addr: f.dst.As4(), Port: int(f.dport)}
			}
			typ := unix.SOCK_DGRAM
			if f.proto == unix.IPPROTO_TCP {
				typ = unix.SOCK_STREAM | unix.SOCK_NONBLOCK
			}
			fd, err := unix.Socket(fam, typ|unix.SOCK_CLOEXEC, int(f.proto))
			if err != nil {
				return fmt.Errorf("socket for %s: %w", f, err)
			}
			if err := unix.SetsockoptInt(fd, lvl, opt, int(tos)); err != nil {
				unix.Close(fd)
				return fmt.Errorf("setting TOS %#x for %s: %w", tos, f, err)
			}
			if f.proto == unix.IPPROTO_TCP {
				if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
					unix.Close(fd)
					return fmt.Errorf("connect to %s: %w", f, err)
				}
				t.Cleanup(func() { unix.Close(fd) })
				continue
			}
			// Three datagrams: the first may wait for the neighbour entry.
			for i := 0; i < 3; i++ {
				if err := unix.Sendto(fd, []byte("l3dsr-dscpmark"), 0, sa); err != nil {
					unix.Close(fd)
					return fmt.Errorf("sendto %s: %w", f, err)
				}
			}
			unix.Close(fd)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func runHost(args ...string) (string, error) {
	b, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(b), err
}

func TestIntegrationWire(t *testing.T) {
	w := newWireTopo(t)
	m := w.mrk.marker()
	const d4, d6 = 21, 22
	vip6b := netip.MustParseAddr("2001:db8:80::2")
	if err := m.Add(udp(vip4, 7, d4), tcp(vip4, 80, d4), udp(vip6, 7, d6), tcp(vip6, 80, d6)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	read := w.capture(t)

	// The sender's own TOS: DSCP 7, and ECT(0) on the datagrams (TCP
	// clears the ECN bits of a SYN itself).
	const udpTOS, tcpTOS = 7<<2 | 2, 7 << 2
	marked := []struct {
		f    flow
		want uint8
	}{
		{flow{vip4, unix.IPPROTO_UDP, 7}, d4<<2 | 2},
		{flow{vip4, unix.IPPROTO_TCP, 80}, d4 << 2},
		{flow{vip6, unix.IPPROTO_UDP, 7}, d6<<2 | 2},
		{flow{vip6, unix.IPPROTO_TCP, 80}, d6 << 2},
	}
	unmarked := []flow{
		{vip4, unix.IPPROTO_UDP, 8},   // a port not in the map
		{vip4b, unix.IPPROTO_UDP, 7},  // a VIP not in the map
		{vip6, unix.IPPROTO_UDP, 8},   //
		{vip6b, unix.IPPROTO_UDP, 7},  //
		{vip4, unix.IPPROTO_TCP, 7},   // the UDP port, but TCP
		{vip6, unix.IPPROTO_TCP, 7},   //
		{vip4b, unix.IPPROTO_TCP, 80}, // the TCP port, another VIP
	}
	var all []flow
	for _, c := range marked {
		w.send(t, map[bool]uint8{true: tcpTOS, false: udpTOS}[c.f.proto == unix.IPPROTO_TCP], c.f)
		all = append(all, c.f)
	}
	for _, f := range unmarked {
		w.send(t, map[bool]uint8{true: tcpTOS, false: udpTOS}[f.proto == unix.IPPROTO_TCP], f)
		all = append(all, f)
	}
	got := read(all, 10*time.Second)

	for _, c := range marked {
		s, ok := got[c.f]
		switch {
		case !ok:
			t.Errorf("%s: no packet reached the receiver", c.f)
		case s.tos != c.want:
			t.Errorf("%s: TOS/traffic class %#02x (DSCP %d, ECN %d), want %#02x (DSCP %d, ECN %d)", c.f, s.tos, s.tos>>2, s.tos&3, c.want, c.want>>2, c.want&3)
		case !s.csumOK:
			t.Errorf("%s: the IPv4 header checksum is wrong after the mark", c.f)
		default:
			t.Logf("%s: TOS %#02x: DSCP %d, ECN %d kept, header checksum valid", c.f, s.tos, s.tos>>2, s.tos&3)
		}
	}
	for _, f := range unmarked {
		want := uint8(udpTOS)
		if f.proto == unix.IPPROTO_TCP {
			want = tcpTOS
		}
		s, ok := got[f]
		switch {
		case !ok:
			t.Errorf("%s: no packet reached the receiver", f)
		case s.tos != want:
			t.Errorf("%s (not in the map): TOS %#02x, want it untouched: %#02x", f, s.tos, want)
		case !s.csumOK:
			t.Errorf("%s: the IPv4 header checksum is wrong", f)
		}
	}
}
