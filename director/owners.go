package director

import (
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Owner is the real that service s schedules a new flow from
// client:clientPort to, as the kernel would, so that an ICMP error about
// the flow's replies can be sent on to the real that sends them.
//
// Only mh is modelled: other schedulers answer ok=false (they choose by
// connection counts or randomly; OwnersOf then names every real that may
// hold the flow). The client port counts only with mh-port (ip_vs_mh hashes
// port 0 without it); mh-fallback walks on from an unavailable real as the
// kernel does; without it a flow hashed to a real of weight 0 has no owner.
// A real of weight 0 is taken as quiesced (the agent's health checks set
// it so), which keeps its slots in the kernel's table at its last non-zero
// weight; netlink does not report that weight, so Owner takes the one most
// reals of s have (exact for the usual equal weights).
//
// s.Reals must be in the order they were added, oldest first: the order
// the director reads them in (the kernel's list reversed) and Canonical's,
// which is also Show's for a service not in Status.OutOfOrder (Show sorts
// them by address). ip_vs_mh's table depends on that order.
//
// Not modelled, as in ipvs.MHTable: a persistent service (its template
// sends a client's later flows where its first went, which is the same
// real while the table holds), a real's overload flag (netlink does not
// report it), a real added with weight 0 (no slots: it cannot be told from
// a quiesced one), and a kernel whose table size
// is not Debian's (ipvs.MHTableSize).
func Owner(s Service, client netip.Addr, clientPort uint16) (Real, bool) {
	if s.Scheduler != SchedulerMH || len(s.Reals) == 0 {
		return Real{}, false
	}
	// The kernel's list is newest first: the reverse of s.Reals.
	kernel := slices.Clone(s.Reals)
	slices.Reverse(kernel)
	last := usualWeight(s.Reals)
	dests := make([]ipvs.MHDest, len(kernel))
	for i, r := range kernel {
		dests[i] = ipvs.MHDest{Addr: r.Addr, Port: realPort(s, r).Port(), Weight: r.Weight}
		if r.Weight <= 0 {
			dests[i].LastWeight = last
		}
	}
	svc := ipvs.Service{Protocol: s.Proto, Address: s.VIP, Port: s.Port, Scheduler: s.Scheduler, Flags: s.SchedFlags.ipvs()}
	tab, err := ipvs.NewMHTable(svc, dests, ipvs.MHTableSize)
	if err != nil {
		// Only more reals than table slots: the kernel refuses them too.
		return Real{}, false
	}
	i, ok := tab.Pick(client, clientPort)
	if !ok {
		return Real{}, false
	}
	return kernel[i], true
}

// usualWeight is the positive weight most reals have (the larger of a
// tie), 1 when none has one.
func usualWeight(reals []Real) int32 {
	n := map[int32]int{}
	best := int32(1)
	for _, r := range reals {
		if r.Weight <= 0 {
			continue
		}
		n[r.Weight]++
		if c := n[r.Weight]; c > n[best] || (c == n[best] && r.Weight > best) {
			best = r.Weight
		}
	}
	return best
}

// OwnersOf is the reals that may hold the flow client:clientPort of s: for
// mh its Owner (none when the kernel would find none); for another
// scheduler every real with a weight, since which one took the flow is not
// known.
func OwnersOf(s Service, client netip.Addr, clientPort uint16) []Real {
	if s.Scheduler == SchedulerMH {
		if r, ok := Owner(s, client, clientPort); ok {
			return []Real{r}
		}
		return nil
	}
	var out []Real
	for _, r := range s.Reals {
		if r.Weight > 0 {
			out = append(out, r)
		}
	}
	return out
}
