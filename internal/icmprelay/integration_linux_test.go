//go:build linux

package icmprelay

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/nstest"
	"golang.org/x/sys/unix"
)

// inNS runs f on an OS thread that joined namespace fd; the thread is
// never handed back to the Go scheduler. Sockets f opens stay in the
// namespace whichever thread uses them later.
func inNS(fd int, f func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- f()
	}()
	return <-ch
}

func ipIn(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
}

// counts is the relay's counter, read by the test.
type counts struct {
	mu sync.Mutex
	n  map[Result]int
}

func (c *counts) add(r Result) { c.mu.Lock(); c.n[r]++; c.mu.Unlock() }

func (c *counts) get() map[Result]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[Result]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// capture reads, in the real server's namespace, the packets it receives
// (PACKET_HOST) addressed to one of its addresses.
type capture struct {
	fd   int
	mu   sync.Mutex
	pkts [][]byte
}

func openCapture(t *testing.T, nsfd int, rips ...netip.Addr) *capture {
	t.Helper()
	c := &capture{fd: -1}
	err := inNS(nsfd, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	})
	if err != nil {
		t.Fatalf("capture socket: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 0xffff)
		for {
			n, from, err := unix.Recvfrom(c.fd, buf, 0)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			ll, ok := from.(*unix.SockaddrLinklayer)
			if !ok || ll.Pkttype != unix.PACKET_HOST || n < 20 {
				continue
			}
			p := append([]byte(nil), buf[:n]...)
			var dst netip.Addr
			if p[0]>>4 == 4 {
				dst = netip.AddrFrom4([4]byte(p[16:20]))
			} else if n >= 40 {
				dst = netip.AddrFrom16([16]byte(p[24:40]))
			}
			for _, r := range rips {
				if dst == r {
					c.mu.Lock()
					c.pkts = append(c.pkts, p)
					c.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { unix.Close(c.fd); <-done })
	return c
}

// wait returns the packets captured once there are n, or fails after a
// while.
func (c *capture) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		got := len(c.pkts)
		c.mu.Unlock()
		if got >= n {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pkts) != n {
		t.Fatalf("real server received %d relayed packets, want %d", len(c.pkts), n)
	}
	return append([][]byte(nil), c.pkts...)
}

// sender sends from the router's namespace.
type sender struct{ fd4, fd6, fdl int }

func openSender(t *testing.T, nsfd int) *sender {
	t.Helper()
	s := &sender{}
	err := inNS(nsfd, func() error {
		var err error
		if s.fd4, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW); err != nil {
			return err
		}
		if s.fd6, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW); err != nil {
			return err
		}
		s.fdl, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
		return err
	})
	if err != nil {
		t.Fatalf("router sockets: %v", err)
	}
	t.Cleanup(func() { unix.Close(s.fd4); unix.Close(s.fd6); unix.Close(s.fdl) })
	return s
}

func (s *sender) send(t *testing.T, pkt []byte) {
	t.Helper()
	var err error
	if pkt[0]>>4 == 4 {
		err = unix.Sendto(s.fd4, pkt, 0, &unix.SockaddrInet4{Addr: [4]byte(pkt[16:20])})
	} else {
		err = unix.Sendto(s.fd6, pkt, 0, &unix.SockaddrInet6{Addr: [16]byte(pkt[24:40])})
	}
	if err != nil {
		t.Fatalf("router: send: %v", err)
	}
}

func TestIntegrationRelay(t *testing.T) {
	rtr := nstest.New(t, "l3dsr-icmp-rtr", "root, veth")
	dir := nstest.New(t, "l3dsr-icmp-dir", "root, veth")
	real := nstest.New(t, "l3dsr-icmp-real", "root, veth")
	if out, err := exec.Command("ip", "link", "add", "rx", "netns", rtr.Name, "type", "veth", "peer", "name", "dx", "netns", dir.Name).CombinedOutput(); err != nil {
		t.Fatalf("veth router-director: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "link", "add", "dr", "netns", dir.Name, "type", "veth", "peer", "name", "rd", "netns", real.Name).CombinedOutput(); err != nil {
		t.Fatalf("veth director-real: %v: %s", err, out)
	}
	for _, c := range []struct {
		ns   string
		args []string
	}{
		{rtr.Name, []string{"addr", "add", "10.0.1.2/24", "dev", "rx"}},
		{rtr.Name, []string{"addr", "add", "fd00:1::2/64", "dev", "rx", "nodad"}},
		{rtr.Name, []string{"link", "set", "rx", "up"}},
		{rtr.Name, []string{"route", "add", "192.0.2.0/24", "via", "10.0.1.1"}},
		{rtr.Name, []string{"route", "add", "2001:db8::/64", "via", "fd00:1::1"}},
		{dir.Name, []string{"addr", "add", "10.0.1.1/24", "dev", "dx"}},
		{dir.Name, []string{"addr", "add", "fd00:1::1/64", "dev", "dx", "nodad"}},
		{dir.Name, []string{"addr", "add", "10.0.2.1/24", "dev", "dr"}},
		{dir.Name, []string{"addr", "add", "fd00:2::1/64", "dev", "dr", "nodad"}},
		{dir.Name, []string{"addr", "add", "192.0.2.10/32", "dev", "lo"}},
		{dir.Name, []string{"addr", "add", "2001:db8::10/128", "dev", "lo"}},
		{dir.Name, []string{"link", "set", "dx", "up"}},
		{dir.Name, []string{"link", "set", "dr", "up"}},
		{real.Name, []string{"addr", "add", "10.0.2.2/24", "dev", "rd"}},
		{real.Name, []string{"addr", "add", "fd00:2::2/64", "dev", "rd", "nodad"}},
		{real.Name, []string{"link", "set", "rd", "up"}},
	} {
		ipIn(t, c.ns, c.args...)
	}
	// The director has talked to its real before, as a director has: the
	// real's link-layer address is in the neighbor table, and every copy
	// can leave on the link (linksend.go).
	for _, dst := range []string{"10.0.2.2", "fd00:2::2"} {
		if out, err := exec.Command("ip", "netns", "exec", dir.Name, "ping", "-c", "1", "-W", "5", dst).CombinedOutput(); err != nil {
			t.Fatalf("ping %s from the director: %v: %s", dst, err, out)
		}
	}

	var mu sync.Mutex
	tunnel := false
	look := func(q Quoted) (Target, Result) {
		mu.Lock()
		defer mu.Unlock()
		switch q.VIP {
		case vip4:
			return Target{RIP: rip4, Source: dir4, DSCP: 10, Tunnel: tunnel}, ""
		case vip6:
			return Target{RIP: rip6, Source: dir6, DSCP: 10, Tunnel: tunnel}, ""
		}
		return Target{}, NotVIP
	}
	var relay *Relay
	if err := inNS(dir.FD, func() (err error) { relay, err = Open(); return err }); err != nil {
		t.Fatal(err)
	}
	cnt := &counts{n: map[Result]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- relay.Run(ctx, look, cnt.add) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := relay.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	capt := openCapture(t, real.FD, rip4, rip6)
	snd := openSender(t, rtr.FD)

	s4, s6 := defSpec4(), defSpec6()
	s4.router, s6.router = netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("fd00:1::2")
	s4.tos, s6.tos = 0, 0
	in4, in6 := build4(t, s4), build6(t, s6)
	// Neighbour discovery: the first packets may wait on it, not be lost.
	snd.send(t, in4)
	snd.send(t, in6)
	got := capt.wait(t, 2)
	for _, p := range got {
		if p[0]>>4 == 4 {
			if p[1]>>2 != 10 || p[9] != protoICMP || !bytes.Equal(p[20:], in4[20:]) || netip.AddrFrom4([4]byte(p[12:16])) != dir4 {
				t.Errorf("dscp IPv4 copy: DSCP %d proto %d from %v, ICMP equal %v; want DSCP 10, ICMP from %s, the router's ICMP message",
					p[1]>>2, p[9], netip.AddrFrom4([4]byte(p[12:16])), bytes.Equal(p[20:], in4[20:]), dir4)
			}
			if checksum(p[:20], 0) != 0 {
				t.Errorf("dscp IPv4 copy: bad header checksum")
			}
		} else {
			tc := p[0]<<4 | p[1]>>4
			if tc>>2 != 10 || p[6] != protoICMPv6 || !bytes.Equal(p[44:], in6[44:]) {
				t.Errorf("dscp IPv6 copy: DSCP %d next header %d, body equal %v; want DSCP 10, ICMPv6, the router's body", tc>>2, p[6], bytes.Equal(p[44:], in6[44:]))
			}
			if checksum(p[40:], pseudo6(p[8:24], p[24:40], len(p)-40)) != 0 {
				t.Errorf("dscp IPv6 copy: bad ICMPv6 checksum")
			}
		}
	}

	mu.Lock()
	tunnel = true
	mu.Unlock()
	snd.send(t, in4)
	snd.send(t, in6)
	got = capt.wait(t, 4)[2:]
	for _, p := range got {
		if p[0]>>4 == 4 {
			inner := p[20:]
			if p[9] != protoIPIP || netip.AddrFrom4([4]byte(p[12:16])) != dir4 || len(inner) != len(in4) || !bytes.Equal(inner[20:], in4[20:]) || netip.AddrFrom4([4]byte(inner[16:20])) != vip4 {
				t.Errorf("IPIP copy: proto %d from %v, inner %x; want proto 4 from %s, the router's packet to %s", p[9], netip.AddrFrom4([4]byte(p[12:16])), inner, dir4, vip4)
			}
		} else {
			if p[6] != protoIPv6 || !bytes.Equal(p[40:], in6) {
				t.Errorf("IP6IP6 copy: next header %d, inner %x; want 41, %x", p[6], p[40:], in6)
			}
		}
	}

	// Every copy left on the link, past IPVS's output hook (linksend.go).
	if l, ip := relay.viaLink.Load(), relay.viaIP.Load(); l != 4 || ip != 0 {
		t.Errorf("%d copies sent on the link and %d through the IP stack, want all 4 on the link", l, ip)
	}

	// Not a VIP: counted, not sent.
	s4.src, s4.dst = netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("192.0.2.99")
	snd.send(t, build4(t, s4))

	// A frame for another host on the link, seen by a promiscuous
	// director: not PACKET_HOST, not relayed (nor counted).
	ipIn(t, dir.Name, "link", "set", "dx", "promisc", "on")
	ifi, err := inNSIndex(rtr.FD, "rx")
	if err != nil {
		t.Fatal(err)
	}
	other := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi, Halen: 6, Addr: [8]byte{0x02, 0, 0, 0, 0, 0x99}}
	if err := unix.Sendto(snd.fdl, in4, 0, other); err != nil {
		t.Fatalf("router: send to another MAC: %v", err)
	}

	want := map[Result]int{Relayed: 4, NotVIP: 1}
	var have map[Result]int
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if have = cnt.get(); have[NotVIP] == 1 {
			break
		}
	}
	// Time for anything the relay might read back (its own sends, the
	// real server's ICMP about the IPIP it cannot take) to show.
	time.Sleep(500 * time.Millisecond)
	have = cnt.get()
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("relay counted %v, want %v (one count per ICMP error sent to it)", have, want)
	}
	capt.wait(t, 4)
}

func inNSIndex(nsfd int, name string) (int, error) {
	var idx int
	err := inNS(nsfd, func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	})
	return idx, err
}
