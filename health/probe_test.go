package health

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

func TestFailsOnAClosedPort(t *testing.T) {
	for _, c := range []struct {
		kind    Kind
		network string
		want    string // after the target's name, with AP for the port's address
	}{
		{KindTCP, "tcp", "dial tcp AP: connect: connection refused"},
		{KindHTTP, "tcp", `Get "http://AP/": dial tcp AP: connect: connection refused`},
		{KindHTTPS, "tcp", `Get "https://AP/": dial tcp AP: connect: connection refused`},
		{KindDNS, "udp", "waiting for the reply to SOA .: read udp 127.0.0.1:"},
	} {
		ap := closedPort(t, c.network, "127.0.0.1")
		tg := targetOf(ap, ipvs.ProtoTCP)
		tg.Service = netip.MustParseAddrPort("10.0.0.1:80") // the VIP, as the error names it
		r := runProbe(context.Background(), Spec{Kind: c.kind}, tg)
		want := string(c.kind) + " 10.0.0.1:80 via 127.0.0.1: " + strings.ReplaceAll(c.want, "AP", ap.String())
		if r.OK || !strings.HasPrefix(r.Err.Error(), want) || !strings.HasSuffix(r.Err.Error(), "connection refused") {
			t.Errorf("%s: %+v, want the error %q...connection refused", c.kind, r, want)
		}
	}
}

func TestUnknownKindFails(t *testing.T) {
	r := runProbe(context.Background(), Spec{Kind: "icmp"}, Target{})
	if r.OK || !strings.Contains(r.Err.Error(), `unknown check kind "icmp"`) {
		t.Errorf("%+v, want an unknown kind", r)
	}
}
