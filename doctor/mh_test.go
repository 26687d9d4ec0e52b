package doctor

import (
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/director"
)

// mhHost is cleanHost with its service on mh and both sloppy settings on.
func mhHost() (*fakeHost, *Expect) {
	h, e := cleanHost()
	h.dir.Services[0].Scheduler = director.SchedulerMH
	h.sysctls["net.ipv4.vs.sloppy_sctp"] = "1"
	return h, e
}

func TestMHFindings(t *testing.T) {
	key := director.Key{VIP: vip4, Port: 80, Proto: 6}
	for _, tc := range []struct {
		name   string
		host   func() (*fakeHost, *Expect)
		break_ func(*fakeHost)
		want   []found
	}{
		{"mh, all set", mhHost, func(*fakeHost) {}, nil},
		{"mh, sloppy_tcp 0", mhHost, func(h *fakeHost) { h.sysctls["net.ipv4.vs.sloppy_tcp"] = "0" },
			[]found{{"sloppy_tcp", "warning", "sysctl -w net.ipv4.vs.sloppy_tcp=1"}}},
		{"mh, sloppy_sctp 0", mhHost, func(h *fakeHost) { h.sysctls["net.ipv4.vs.sloppy_sctp"] = "0" },
			[]found{{"sloppy_sctp", "warning", "sysctl -w net.ipv4.vs.sloppy_sctp=1"}}},
		{"wlc, sloppy_sctp 0", cleanHost, func(h *fakeHost) { h.sysctls["net.ipv4.vs.sloppy_sctp"] = "0" },
			[]found{{"sloppy_sctp", "info", "sysctl -w net.ipv4.vs.sloppy_sctp=1"}}},
		{"mh, reals out of order", mhHost, func(h *fakeHost) { h.dir.OutOfOrder = []director.Key{key} },
			[]found{{"mh-order", "warning", "l3dsr apply -f " + testFile}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, e := tc.host()
			tc.break_(h)
			rep := run(t, h, e)
			if got := foundOf(rep); !slices.Equal(got, tc.want) {
				t.Fatalf("findings %+v, want %+v", rep.Findings, tc.want)
			}
			if len(tc.want) > 0 && rep.Err() == nil && tc.want[0].level == "warning" {
				t.Errorf("a warning that is not an error: %v", rep.Err())
			}
		})
	}
	h, e := mhHost()
	h.dir.OutOfOrder = []director.Key{key}
	if f := run(t, h, e).Findings[0]; f.What != "service tcp 10.0.0.1:80 uses mh, and IPVS holds its reals out of canonical order (by address, then port)" {
		t.Errorf("finding says %q", f.What)
	}
}
