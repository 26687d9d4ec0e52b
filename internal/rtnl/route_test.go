package rtnl

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/nstest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

func TestRouteOif(t *testing.T) {
	var got netlink.Message
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		got = reqs[0]
		rt := make([]byte, rtmsgLen)
		rt[0] = unix.AF_INET
		return reply(reqs, netlink.Message{
			Header: netlink.Header{Type: unix.RTM_NEWROUTE},
			Data: append(rt, attrs(t, []netlink.Attribute{
				{Type: unix.RTA_DST, Data: []byte{192, 0, 2, 20}},
				{Type: unix.RTA_OIF, Data: nlUint32(3)},
			})...),
		})
	}))
	oif, err := c.RouteOif(netip.MustParseAddr("192.0.2.20"))
	if err != nil || oif != 3 {
		t.Fatalf("RouteOif = %d, %v; want 3", oif, err)
	}
	// The answer above names no source address.
	if src, err := c.RouteSrc(netip.MustParseAddr("192.0.2.20")); err == nil || !strings.Contains(err.Error(), "names no source address") {
		t.Fatalf("RouteSrc = %v, %v; want an error", src, err)
	}
	if got.Header.Type != unix.RTM_GETROUTE || got.Header.Flags&netlink.Dump != 0 || got.Data[0] != unix.AF_INET || got.Data[1] != 32 {
		t.Fatalf("request %+v %x: want RTM_GETROUTE for one IPv4 host", got.Header, got.Data)
	}

	// A route without an interface (unreachable) is an error naming dst.
	c = newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		return reply(reqs, netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWROUTE}, Data: make([]byte, rtmsgLen)})
	}))
	if _, err := c.RouteOif(netip.MustParseAddr("2001:db8::20")); err == nil || !strings.Contains(err.Error(), "2001:db8::20") {
		t.Fatalf("err = %v; want one naming the destination", err)
	}
}

func TestRouteSrc(t *testing.T) {
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		rt := make([]byte, rtmsgLen)
		rt[0] = unix.AF_INET6
		return reply(reqs, netlink.Message{
			Header: netlink.Header{Type: unix.RTM_NEWROUTE},
			Data: append(rt, attrs(t, []netlink.Attribute{
				{Type: unix.RTA_OIF, Data: nlUint32(2)},
				{Type: unix.RTA_PREFSRC, Data: netip.MustParseAddr("2001:db8:1::10").AsSlice()},
			})...),
		})
	}))
	if src, err := c.RouteSrc(netip.MustParseAddr("2001:db8:9::1")); err != nil || src != netip.MustParseAddr("2001:db8:1::10") {
		t.Fatalf("RouteSrc = %v, %v; want 2001:db8:1::10", src, err)
	}
}

// The kernel's own lookup: the connected route's interface, and a
// gateway's.
func TestIntegrationRouteOif(t *testing.T) {
	ns := nstest.New(t, "l3dsr-route", "root")
	for _, cmd := range []string{
		"link add d0 type veth peer name p0", "link add d1 type veth peer name p1",
		"link set d0 up", "link set p0 up", "link set d1 up", "link set p1 up",
		"addr add 192.0.2.1/24 dev d0", "addr add 198.51.100.1/24 dev d1",
		"route add 203.0.113.0/24 via 198.51.100.254",
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns.Name}, strings.Fields(cmd)...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", cmd, err, out)
		}
	}
	c, err := Dial(ns.FD)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for dst, want := range map[string]string{"192.0.2.20": "d0", "203.0.113.5": "d1"} {
		oif, err := c.RouteOif(netip.MustParseAddr(dst))
		if err != nil {
			t.Fatal(err)
		}
		l, err := c.LinkByName(want)
		if err != nil {
			t.Fatal(err)
		}
		if oif != l.Index {
			t.Errorf("route to %s leaves by index %d, want %s (%d)", dst, oif, want, l.Index)
		}
	}
	if src, err := c.RouteSrc(netip.MustParseAddr("203.0.113.5")); err != nil || src != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("RouteSrc(203.0.113.5) = %v, %v; want 198.51.100.1 (d1's, the gateway's link)", src, err)
	}
}
