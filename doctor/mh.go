package doctor

import (
	"fmt"
	"slices"

	"github.com/l3dsr/l3dsr/director"
)

// sloppyKeys are the sysctls that let IPVS take up a flow mid-stream.
var sloppyKeys = []struct{ key, proto, first string }{
	{"net.ipv4.vs.sloppy_tcp", "a TCP connection", "SYN"},
	{"net.ipv4.vs.sloppy_sctp", "an SCTP association", "INIT"},
}

// mh checks what several directors behind ECMP need. With an mh service
// the director is meant to be one of several: a flow that another director
// carried reaches this one mid-stream (a failover, a director added), and
// without the sloppy settings IPVS drops it. Without mh they are worth
// knowing only. And mh picks the same real on every director only when
// each holds the reals in the same (canonical) order.
func (c *checker) mh(st director.Status) {
	mh := slices.ContainsFunc(st.Services, func(s director.Service) bool { return s.Scheduler == director.SchedulerMH })
	for _, s := range sloppyKeys {
		// A kernel without the protocol in IPVS has no key: nothing to set.
		if v, err := c.h.Sysctl(s.key); err != nil || v != "0" {
			continue
		}
		lvl, why := info, fmt.Sprintf("IPVS schedules %s only from its %s: after a failover to another director, established ones are dropped; with 1, any packet schedules one (only useful with a second director taking over)", s.proto, s.first)
		if mh {
			lvl, why = warning, fmt.Sprintf("a service uses mh, so this director is one of several behind ECMP: %s that ECMP moves here (a director failed or was added) arrives mid-stream, and IPVS, which schedules only from a %s, drops it", s.proto, s.first)
		}
		c.add(lvl, s.key[len("net.ipv4.vs."):], s.key+" is 0", why, fmt.Sprintf("sysctl -w %s=1", s.key))
	}
	for _, k := range st.OutOfOrder {
		fix := c.e.apply()
		if fix == "" {
			fix = "l3dsr apply with a config that lists the service (it re-adds the reals in order), or delete and add the reals with ipvsadm sorted by address"
		}
		c.add(warning, "mh-order", fmt.Sprintf("service %s uses mh, and IPVS holds its reals out of canonical order (by address, then port)", k),
			"mh builds its table from the reals in the order they were added: another director with the same reals in another order sends a flow elsewhere, and a flow that ECMP moves between them reaches another real and breaks",
			fix)
	}
}
