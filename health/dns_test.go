package health

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
	"golang.org/x/net/dns/dnsmessage"
)

// query is what a DNS test server saw of a probe.
type query struct {
	q    dnsmessage.Question
	rd   bool
	peer netip.Addr
}

// dnsServer answers every query on host with rcode, after a reply with
// another ID that the probe must pass over; with silent, it never
// answers. What it saw goes to the channel it returns.
func dnsServer(t *testing.T, host string, rcode dnsmessage.RCode, silent bool) (netip.AddrPort, <-chan query) {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	seen := make(chan query, 16)
	go func() {
		buf := make([]byte, 512)
		for {
			n, peer, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if err := m.Unpack(buf[:n]); err != nil || len(m.Questions) != 1 {
				t.Errorf("the server could not read the query: %v", err)
				continue
			}
			select {
			case seen <- query{q: m.Questions[0], rd: m.Header.RecursionDesired, peer: addrPort(t, peer).Addr()}:
			default: // a test that does not read them
			}
			if silent {
				continue
			}
			for _, id := range []uint16{m.Header.ID + 1, m.Header.ID} {
				a := dnsmessage.Message{Header: dnsmessage.Header{ID: id, Response: true, RCode: rcode}, Questions: m.Questions}
				if id != m.Header.ID {
					a.Header.RCode = dnsmessage.RCodeSuccess // the probe would pass on it
				}
				b, _ := a.Pack()
				c.WriteTo(b, peer)
			}
		}
	}()
	return addrPort(t, c.LocalAddr()), seen
}

func TestDNSPasses(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		ap, seen := dnsServer(t, host, dnsmessage.RCodeSuccess, false)
		if r := runProbe(context.Background(), Spec{Kind: KindDNS}, targetOf(ap, ipvs.ProtoUDP)); !r.OK {
			t.Fatalf("%s: %v", ap, r.Err)
		}
		q := <-seen
		if q.q.Name.String() != "." || q.q.Type != dnsmessage.TypeSOA || q.q.Class != dnsmessage.ClassINET || !q.rd {
			t.Errorf("the server saw %+v, want SOA . IN with RD (the defaults)", q)
		}
	}
	ap, seen := dnsServer(t, "127.0.0.1", dnsmessage.RCodeNameError, false)
	s := Spec{Kind: KindDNS, Query: "nothing.example", QType: "aaaa", RCode: "nxdomain"}
	if r := runProbe(context.Background(), s, targetOf(ap, ipvs.ProtoUDP)); !r.OK {
		t.Fatal(r.Err)
	}
	if q := <-seen; q.q.Name.String() != "nothing.example." || q.q.Type != dnsmessage.TypeAAAA {
		t.Errorf("the server saw %+v, want AAAA nothing.example.", q)
	}
}

func TestDNSFailsOnAnotherRCode(t *testing.T) {
	ap, _ := dnsServer(t, "127.0.0.1", dnsmessage.RCodeServerFailure, false)
	tg := targetOf(ap, ipvs.ProtoUDP)
	tg.Service = netip.MustParseAddrPort("10.0.0.53:53")
	r := runProbe(context.Background(), Spec{Kind: KindDNS, Query: "example.com", QType: "A"}, tg)
	want := "udp-dns 10.0.0.53:53 via 127.0.0.1: rcode SERVFAIL, want NOERROR (query A example.com)"
	if r.OK || r.Err.Error() != want {
		t.Errorf("%+v, want the error %q", r, want)
	}
}

func TestDNSFailsByItsTimeout(t *testing.T) {
	ap, _ := dnsServer(t, "127.0.0.1", 0, true)
	failsByTimeout(t, Spec{Kind: KindDNS, Timeout: 100 * time.Millisecond}, targetOf(ap, ipvs.ProtoUDP), "waiting for the reply to SOA .")
}

func TestDNSUsesTheTargetsDialer(t *testing.T) {
	ap, seen := dnsServer(t, "127.0.0.1", dnsmessage.RCodeSuccess, false)
	tg := targetOf(ap, ipvs.ProtoUDP)
	tg.Dialer = boundDialer() // bound with a TCP address: the probe makes it UDP's
	if r := runProbe(context.Background(), Spec{Kind: KindDNS}, tg); !r.OK {
		t.Fatal(r.Err)
	}
	if q := <-seen; q.peer != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("the server saw %s, want the dialer's 127.0.0.2", q.peer)
	}
}
