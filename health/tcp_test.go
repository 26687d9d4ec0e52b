package health

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

func TestTCPPassesOnAListeningPort(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		ap, _ := listen(t, host)
		r := runProbe(context.Background(), Spec{Kind: KindTCP}, targetOf(ap, ipvs.ProtoTCP))
		if !r.OK || r.Err != nil {
			t.Errorf("%s: %+v, want OK", ap, r)
		}
		if r.Latency <= 0 || r.At.IsZero() {
			t.Errorf("%s: latency %v, at %v: want both set", ap, r.Latency, r.At)
		}
	}
}

func TestTCPFailsByItsTimeout(t *testing.T) {
	ap, _ := listen(t, "127.0.0.1")
	tg := targetOf(ap, ipvs.ProtoTCP)
	tg.Dialer = stalledDialer()
	failsByTimeout(t, Spec{Kind: KindTCP, Timeout: 100 * time.Millisecond}, tg, "dial tcp")
}

func TestTCPUsesTheTargetsDialer(t *testing.T) {
	ap, conns := listen(t, "127.0.0.1")
	tg := targetOf(ap, ipvs.ProtoTCP)
	tg.Dialer = boundDialer()
	if r := runProbe(context.Background(), Spec{Kind: KindTCP}, tg); !r.OK {
		t.Fatal(r.Err)
	}
	c := <-conns
	if peer := addrPort(t, c.RemoteAddr()).Addr(); peer != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("the server saw %s, want the dialer's 127.0.0.2", peer)
	}
}
