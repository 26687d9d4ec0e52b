package agent

import (
	"net/netip"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/icmprelay"
)

// The relay's lookup: the mh owner of the quoted flow, in the service's
// encoding, from the director's own address toward it.
func TestRelayLookup(t *testing.T) {
	svc := testService(health.Quiesce)
	svc.Service.Scheduler = "mh"
	port, err := director.ParseSchedFlag("mh", "mh-port")
	if err != nil {
		t.Fatal(err)
	}
	svc.Service.SchedFlags = port
	ipip := svc.Service
	ipip.Key.Port, ipip.Mode, ipip.DSCP = 443, dsrtypes.ModeIPIP, 0
	dr := svc.Service
	dr.Key.Port, dr.Mode, dr.DSCP = 8080, dsrtypes.ModeDR, 0
	fd := &fakeDirector{svcs: []director.Service{svc.Service, ipip, dr}}
	a, _ := newTestAgent(t, fd, svc, "")
	src := netip.MustParseAddr("10.1.0.11")
	rl := &relayer{a: a, sources: map[netip.Addr]netip.Addr{},
		route: func(netip.Addr) (netip.Addr, error) { return src, nil }}

	client := netip.MustParseAddr("198.51.100.7")
	seen := map[netip.Addr]bool{}
	for port := uint16(40000); port < 40064; port++ {
		q := icmprelay.Quoted{Client: client, ClientPort: port, VIP: svcKey.VIP, VIPPort: 80, Proto: 6, MTU: 1280}
		tg, res := rl.lookup(q)
		want, ok := director.Owner(svc.Service, client, port)
		if res != "" || !ok || tg.RIP != want.Addr || tg.DSCP != 21 || tg.Tunnel || tg.Source != src {
			t.Fatalf("port %d: target %+v, result %q; want RIP %s (ok %v), DSCP 21, source %s", port, tg, res, want.Addr, ok, src)
		}
		seen[tg.RIP] = true
	}
	if len(seen) != 2 {
		t.Errorf("64 client ports went to %d reals, want both: mh-port ignored?", len(seen))
	}
	tg, res := rl.lookup(icmprelay.Quoted{Client: client, ClientPort: 1, VIP: svcKey.VIP, VIPPort: 443, Proto: 6})
	if res != "" || !tg.Tunnel || tg.DSCP != 0 {
		t.Errorf("ipip service: %+v %q, want a tunnel", tg, res)
	}
	if _, res := rl.lookup(icmprelay.Quoted{Client: client, ClientPort: 1, VIP: svcKey.VIP, VIPPort: 8080, Proto: 6}); res != resultOtherMode {
		t.Errorf("dr service: result %q, want %q", res, resultOtherMode)
	}
	if _, res := rl.lookup(icmprelay.Quoted{Client: client, ClientPort: 1, VIP: svcKey.VIP, VIPPort: 80, Proto: 17}); res != icmprelay.NotVIP {
		t.Errorf("udp to a tcp service: result %q, want not_vip", res)
	}
	if _, res := rl.lookup(icmprelay.Quoted{Client: client, ClientPort: 1, VIP: netip.MustParseAddr("10.9.9.9"), VIPPort: 80, Proto: 6}); res != icmprelay.NotVIP {
		t.Errorf("unknown VIP: result %q, want not_vip", res)
	}
}
