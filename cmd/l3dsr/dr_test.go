package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// mode dr through the command line: what reaches the director and the real
// server, the refusals with their exit status, and show. (A dr real on none
// of the director's subnets: TestDirectorRealNotConnected.)
func TestModeDRCLI(t *testing.T) {
	rs := withFakeRS(t)
	if st, _, stderr := runCLI("realserver", "up", "--vip", "10.0.0.3", "--mode", "dr"); st != exitOK ||
		len(rs.ups) != 1 || rs.ups[0].Mode != dsrtypes.ModeDR || rs.ups[0].DSCP != nil {
		t.Fatalf("realserver up --mode dr: exit %d %q, ups %+v", st, stderr, rs.ups)
	}
	rs = withFakeRS(t)
	st, _, stderr := runCLI("realserver", "up", "--vip", "10.0.0.3", "--mode", "dr", "--dscp", "7")
	want := "l3dsr: DSCP 7 given for VIP 10.0.0.3 in dr mode: dr mode uses no DSCP code (the director sends the packet to the VIP unchanged), leave --dscp out (or use --mode dscp)\n"
	if st != exitUsage || !strings.HasPrefix(stderr, want) || rs.opened {
		t.Errorf("realserver up --mode dr --dscp 7: exit %d %q (opened %v); want exit 2 and %q", st, stderr, rs.opened, want)
	}

	d := withFakeDirector(t)
	if st, _, stderr := runCLI("director", "service", "add", "--vip", "10.0.0.3:80", "--mode", "dr"); st != exitOK ||
		d.svc.Mode != dsrtypes.ModeDR || d.svc.DSCP != 0 {
		t.Fatalf("service add --mode dr: exit %d %q, service %+v", st, stderr, d.svc)
	}
	d = withFakeDirector(t)
	st, _, stderr = runCLI("director", "service", "add", "--vip", "10.0.0.3:80", "--mode", "dr", "--dscp", "5")
	if want := "l3dsr: --dscp 5: mode dr uses no DSCP code; drop --dscp, or use --mode dscp\n"; st != exitUsage || !strings.HasPrefix(stderr, want) || len(d.calls) != 0 {
		t.Errorf("service add --mode dr --dscp 5: exit %d %q, calls %v; want exit 2 and %q", st, stderr, d.calls, want)
	}

	d = withFakeDirector(t)
	k := director.Key{VIP: netip.MustParseAddr("10.0.0.3"), Port: 80, Proto: ipvs.ProtoTCP}
	d.status = director.Status{Services: []director.Service{{Key: k, Mode: dsrtypes.ModeDR, Scheduler: "rr", Managed: true,
		Reals: []director.Real{{Addr: netip.MustParseAddr("192.0.2.31"), Weight: 1, Forward: ipvs.Route}}}}}
	st, stdout, stderr := runCLI("director", "show")
	for _, w := range []string{"TCP    10.0.0.3:80      dr       -       rr ", "  ->   192.0.2.31:80    route    1 "} {
		if st != exitOK || !strings.Contains(stdout, w) {
			t.Errorf("director show: exit %d %q; want a line with %q in\n%s", st, stderr, w, stdout)
		}
	}
}
