package bgptest

import (
	"regexp"
	"testing"

	"github.com/l3dsr/l3dsr/internal/nstest"
)

// TestIntegrationLocalAddress: the router knows the director by its second
// address. Without LocalAddress the kernel picks the first and the router
// refuses the session; with it the session comes up.
func TestIntegrationLocalAddress(t *testing.T) {
	tp := newTopo(t)
	run(t, "ip", "-n", tp.director.Name, "addr", "add", "10.1.0.12/24", "dev", "s0")
	p := proto4
	p.neighbor = "10.1.0.12"
	tp.startBird(t, p)

	sp := tp.startSpeaker(t, neighbor4)
	notEstablished(t, tp, sp, "d4", "10.1.0.1")
	sp.do(t, "stop")

	n := neighbor4
	n.LocalAddress = a("10.1.0.12")
	tp.startSpeaker(t, n)
	tp.established(t, "d4")
}

// TestIntegrationPortHoldTime: a router listening on another port than
// 179 is reached on it, and the speaker's hold time of 3 s wins over the
// router's 30 s (the session takes the smaller).
func TestIntegrationPortHoldTime(t *testing.T) {
	tp := newTopo(t)
	p := proto4
	p.port, p.hold = 1179, 30
	tp.startBird(t, p)
	n := neighbor4
	n.Port = 1179
	tp.startSpeaker(t, n)
	tp.established(t, "d4")
	out := tp.birdc(t, "show", "protocols", "all", "d4")
	if !regexp.MustCompile(`Hold timer:\s+[0-9.]+/3\n`).MatchString(out) {
		t.Errorf("bird's d4, want a negotiated hold time of 3 s:\n%s", out)
	}
}

// TestIntegrationMultihop: the router is two hops away, behind a transit
// namespace. An eBGP session is sent with TTL 1 and dies at the transit
// hop; with Multihop 2 it comes up.
func TestIntegrationMultihop(t *testing.T) {
	nstest.Require(t, needs)
	r := nstest.New(t, "bgpr", needs)
	x := nstest.New(t, "bgpx", needs)
	d := nstest.New(t, "bgpd", needs)
	run(t, "ip", "-n", r.Name, "link", "add", "r0", "type", "veth", "peer", "name", "x0", "netns", x.Name)
	run(t, "ip", "-n", x.Name, "link", "add", "x1", "type", "veth", "peer", "name", "s0", "netns", d.Name)
	for _, c := range [][]string{
		{r.Name, "r0", "10.2.0.1/24"}, {x.Name, "x0", "10.2.0.2/24"},
		{x.Name, "x1", "10.1.0.1/24"}, {d.Name, "s0", "10.1.0.11/24"},
	} {
		run(t, "ip", "-n", c[0], "addr", "add", c[2], "dev", c[1])
		run(t, "ip", "-n", c[0], "link", "set", c[1], "up")
	}
	run(t, "ip", "netns", "exec", x.Name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "-n", r.Name, "route", "add", "10.1.0.0/24", "via", "10.2.0.2")
	run(t, "ip", "-n", d.Name, "route", "add", "10.2.0.0/24", "via", "10.1.0.1")
	tp := &topo{router: r, director: d}
	tp.startBird(t, birdProto{name: "d4", local: "10.2.0.1", neighbor: "10.1.0.11", channel: "ipv4", asn: 65001, multihop: true})

	n := neighbor4
	n.Address = a("10.2.0.1")
	sp := tp.startSpeaker(t, n)
	notEstablished(t, tp, sp, "d4", "10.2.0.1")
	sp.do(t, "stop")

	n.Multihop = 2
	sp = tp.startSpeaker(t, n)
	tp.established(t, "d4")
	if s := sp.sessions(t)["10.2.0.1"]; !s.Up {
		t.Errorf("speaker's session to 10.2.0.1: %+v, want up", s)
	}
}
