package director

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/internal/undo"
)

// SchedulerMH is IPVS's Maglev hashing scheduler (ip_vs_mh). It builds its
// lookup table from a service's destinations in the order of the kernel's
// list, which is the order they were added in, backwards:
// two directors with the same reals added in other orders send a flow to
// other reals, and a flow the routers' ECMP moves from one to the other
// breaks. So the reals of an mh service are kept in one canonical order
// (Canonical) on every director.
const SchedulerMH = "mh"

// realPort is the port IPVS knows real r of s by.
func realPort(s Service, r Real) netip.AddrPort {
	if r.Port != 0 {
		return netip.AddrPortFrom(r.Addr, r.Port)
	}
	return netip.AddrPortFrom(r.Addr, s.Port)
}

// Canonical is reals (of s) in the order every director adds them in: by address
// (IPv4 before IPv6, then by bytes: netip.Addr.Compare), then port.
func Canonical(s Service, reals []Real) []Real {
	out := slices.Clone(reals)
	slices.SortStableFunc(out, func(a, b Real) int {
		pa, pb := realPort(s, a), realPort(s, b)
		return cmp.Or(pa.Addr().Compare(pb.Addr()), cmp.Compare(pa.Port(), pb.Port()))
	})
	return out
}

// outOfOrder says whether s uses mh with its reals (in the order they were
// added: readSome) not in canonical order.
func outOfOrder(s Service) bool {
	return s.Scheduler == SchedulerMH && !sameOrder(s, s.Reals, Canonical(s, s.Reals))
}

func sameOrder(s Service, a, b []Real) bool {
	return slices.EqualFunc(a, b, func(x, y Real) bool { return realPort(s, x) == realPort(s, y) })
}

// arrange makes IPVS hold the reals of s as if added in the order of want,
// from *now, the order they were added in (readSome); *now follows each
// request that succeeds, so that after a failure it is what IPVS holds.
// The common head of the two stays; the rest of *now is deleted, and
// want's rest added after the head in order. IPVS puts a new destination
// at the head of the service's list (the last added is walked first), so
// the only way to move a real is to delete it and add it again. Each
// real is added again right after its delete, with exactly its settings
// (destination: weight, method, thresholds, tunnel): it is out of the table
// for two requests, not for the whole reorder. Its connections survive:
// IPVS keeps a deleted destination that has connections in its trash and
// revives it, with them, when the same address and port is added again
// (ip_vs_trash_get_dest). Only a packet of one of them arriving in the
// instant between the two requests meets an unavailable destination:
// expire_nodest_conn=1 then ends its entry and schedules the packet anew
// (sloppy_tcp lets a mid-stream packet be), and mh, without this real for
// that instant, may send the flow elsewhere. It returns how many reals of
// *now were deleted and added again.
func (d *Director) arrange(s Service, now *[]Real, want []Real) (int, error) {
	is := d.ipvsService(s)
	head := 0
	for head < len(*now) && head < len(want) && realPort(s, (*now)[head]) == realPort(s, want[head]) {
		head++
	}
	at := func(r Real) int {
		return slices.IndexFunc(*now, func(o Real) bool { return realPort(s, o) == realPort(s, r) })
	}
	// Reals want does not have (an undone add) go first.
	for _, r := range slices.Clone((*now)[head:]) {
		if slices.ContainsFunc(want, func(o Real) bool { return realPort(s, o) == realPort(s, r) }) {
			continue
		}
		if err := d.ipvs.RemoveDestination(is, d.destination(s, r)); err != nil {
			return 0, fmt.Errorf("remove real server %s from %s: %w", r.Addr, s.Key, err)
		}
		*now = slices.Delete(*now, at(r), at(r)+1)
	}
	moved := 0
	for _, r := range want[head:] {
		if j := at(r); j >= 0 {
			if err := d.ipvs.RemoveDestination(is, d.destination(s, (*now)[j])); err != nil {
				return moved, fmt.Errorf("remove real server %s from %s to add it again after %s: %w", r.Addr, s.Key, prevAddr(want, r), err)
			}
			*now = slices.Delete(*now, j, j+1)
			moved++
		}
		if err := d.ipvs.CreateDestination(is, d.destination(s, r)); err != nil {
			return moved, fmt.Errorf("add real server %s to %s: %w", r.Addr, s.Key, err)
		}
		*now = append(*now, r)
	}
	return moved, nil
}

// prevAddr names the real before r in want, for an error.
func prevAddr(want []Real, r Real) string {
	i := slices.IndexFunc(want, func(o Real) bool { return o.Addr == r.Addr })
	if i <= 0 {
		return "none"
	}
	return want[i-1].Addr.String()
}

// order puts the reals of s (in s.Reals, as IPVS holds them) in want's
// order, and pushes on u the step that puts them back as they were. The
// undo is one step that arranges again, from whatever IPVS holds then: an
// undo per request would add the deleted reals back in another order.
// It returns the reals as IPVS holds them after, and how many it moved.
func (d *Director) order(s Service, want []Real, u *undo.Stack) ([]Real, int, error) {
	have, now := slices.Clone(s.Reals), slices.Clone(s.Reals)
	moved, err := d.arrange(s, &now, want)
	u.Push(fmt.Sprintf("put the real servers of %s back in their order", s.Key), func() error {
		_, err := d.arrange(s, &now, have)
		return err
	})
	return now, moved, err
}

func reorderedText(n int, k Key) string {
	return fmt.Sprintf("reordered %d reals of %s for mh", n, k)
}

// addInOrder adds real r to mh service i of the view, s being that service
// with r at the end of its reals: the reals that sort after r are deleted
// and added again after it.
func (b *Batch) addInOrder(i int, s Service, r Real) (Result, error) {
	var res Result
	var u undo.Stack
	cur := b.svcs[i]
	now, moved, err := b.d.order(cur, Canonical(s, s.Reals), &u)
	if err != nil {
		return res, rollback(&u, fmt.Errorf("add real server %s to %s in mh order: %w", r.Addr, s.Key, err))
	}
	s.Reals = now
	b.svcs[i] = s
	b.done("add real server "+r.Addr.String()+" to "+s.Key.String(), &u)
	res.Changes = append(res.Changes, addedText(s.Key, r))
	if moved > 0 {
		res.Changes = append(res.Changes, reorderedText(moved, s.Key))
	}
	return res, nil
}

// Reorder puts the reals of mh service k in canonical order, for a service
// made by hand (or by an older l3dsr) with its reals in another: it deletes
// and adds again the shortest tail that does. A failure puts the reals back
// in the order they had. A service of another scheduler is left as it is.
func (b *Batch) Reorder(k Key) (Result, error) {
	var res Result
	i, err := b.existing(k, " ('l3dsr director show' lists the services)")
	if err != nil {
		return res, err
	}
	s := b.svcs[i]
	if !outOfOrder(s) {
		return res, nil
	}
	var u undo.Stack
	now, moved, err := b.d.order(s, Canonical(s, s.Reals), &u)
	if err != nil {
		return res, rollback(&u, fmt.Errorf("put the real servers of %s in mh order: %w", k, err))
	}
	s.Reals = now
	b.svcs[i] = s
	b.done("reorder the real servers of "+k.String(), &u)
	res.Changes = append(res.Changes, reorderedText(moved, k))
	return res, nil
}

// Reorder: see Batch.Reorder.
func (d *Director) Reorder(k Key) (Result, error) {
	return d.oneReal(k, func(b *Batch) (Result, error) { return b.Reorder(k) })
}

// toMH, when an edit makes service cur use mh (next is its new settings),
// sets the sloppy sysctls and puts its reals in canonical order.
func (b *Batch) toMH(cur, next Service, u *undo.Stack) ([]Real, []string, error) {
	if next.Scheduler != SchedulerMH || cur.Scheduler == SchedulerMH {
		return next.Reals, nil, nil
	}
	ch, err := b.ensureSysctls(sloppy, u)
	if err != nil || !outOfOrder(next) {
		return next.Reals, ch, err
	}
	now, moved, err := b.d.order(next, Canonical(next, next.Reals), u)
	if err != nil {
		return nil, ch, fmt.Errorf("put the real servers of %s in mh order: %w", next.Key, err)
	}
	return now, append(ch, reorderedText(moved, next.Key)), nil
}

// outOfOrderKeys lists the mh services of svcs (as read, the reals in the
// kernel's order) whose reals are not in canonical order.
func outOfOrderKeys(svcs []Service) []Key {
	var out []Key
	for _, s := range svcs {
		if outOfOrder(s) {
			out = append(out, s.Key)
		}
	}
	return out
}
