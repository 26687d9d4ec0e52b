package director

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Status is the running state of the director as Show reports it.
type Status struct {
	Services []Service
	// Marks in the nft map that belong to no IPVS service.
	orphanMarks []dscpmark.Mark
	// Problems says what is set up wrongly, each with the fix.
	Problems []string
	// OutOfOrder are the mh services whose reals IPVS holds in another
	// order than the canonical one (Batch.Reorder fixes that): a flow that
	// ECMP moves to another director may reach another real.
	OutOfOrder []Key
}

// Show reads the running state: every IPVS service by address (firewall-mark
// services are not the director's and are left out), its mode (modeOf),
// its mark and its reals. Problems are those of l3dsr's services, and the
// marks of no service.
func (d *Director) Show() (Status, error) {
	svcs, marks, err := d.read()
	if err != nil {
		return Status{}, err
	}
	return d.status(svcs, marks), nil
}

// status is Show's report of the services svcs and the marks.
func (d *Director) status(svcs []Service, marks []dscpmark.Mark) Status {
	st := Status{OutOfOrder: outOfOrderKeys(svcs)}
	for _, s := range svcs {
		s.Reals = slices.Clone(s.Reals)
		slices.SortStableFunc(s.Reals, func(a, b Real) int { return a.Addr.Compare(b.Addr) })
		st.Services = append(st.Services, s)
	}
	have := make(map[dscpmark.Mark]bool, len(marks))
	for _, m := range marks {
		have[m] = true
	}
	used := map[dscpmark.Mark]bool{}
	for _, s := range svcs {
		if !s.Managed {
			continue
		}
		if s.Mode == dsrtypes.ModeDSCP {
			if have[markOf(s)] {
				used[markOf(s)] = true
			} else {
				st.Problems = append(st.Problems, fmt.Sprintf(
					"service %s (mode dscp) has lost its DSCP mark: its packets reach the real servers unmarked, and no real server maps them back to the VIP: delete it and add it again with 'l3dsr director service add --dscp N'", s.Key))
			}
		}
		st.Problems = append(st.Problems, realProblems(s)...)
	}
	for _, m := range marks {
		if !used[m] {
			st.orphanMarks = append(st.orphanMarks, m)
			st.Problems = append(st.Problems, fmt.Sprintf(
				"DSCP mark %d for %s %s has no IPVS service: add the service, or remove the mark with 'l3dsr director service del'",
				m.DSCP, ipvs.Protocol(m.Proto), fmtAddrPort(m)))
		}
	}
	for _, sc := range sysctls(svcs) {
		v, err := d.host.sysctl(sc.name)
		if absent(sc, err) {
			continue
		}
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("sysctl %s: %v", sc.name, err))
			continue
		}
		if v != sc.value {
			st.Problems = append(st.Problems, fmt.Sprintf("sysctl %s is %s, want %s (%s): run any 'l3dsr director' change, or sysctl -w %s=%s",
				sc.name, v, sc.value, sc.why, sc.name, sc.value))
		}
	}
	return st
}

// realProblems lists the reals of l3dsr's service s that do not forward as
// its mode does. A local real (the kernel delivers to this host whatever the
// method) is none.
func realProblems(s Service) []string {
	var out []string
	for _, r := range s.Reals {
		switch {
		case r.Forward == ipvs.Local:
		case r.Forward != Forward(s.Mode):
			out = append(out, fmt.Sprintf(
				"service %s (mode %s): real server %s forwards by %s, not %s: delete it and add it again with 'l3dsr director real add'",
				s.Key, s.Mode, r.Addr, r.Forward, Forward(s.Mode)))
		}
	}
	return out
}

// read returns the director's services with their modes, DSCP codes and reals,
// and every mark in the nft map.
func (d *Director) read() ([]Service, []dscpmark.Mark, error) { return d.readSome(nil) }

// services are IPVS's services, or only the one with key only (none if it
// does not exist): a get of one, where a dump of every service costs as
// much as there are services.
func (d *Director) services(only *Key) ([]ipvs.Service, error) {
	if only == nil {
		return d.ipvs.Services()
	}
	is, err := d.ipvs.Service(ipvs.Service{Protocol: only.Proto, Address: only.VIP, Port: only.Port})
	if errors.Is(err, ipvs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []ipvs.Service{is}, nil
}

// readSome is read of the service only (every one when nil): the reals of
// the others, a request per service, are not read.
func (d *Director) readSome(only *Key) ([]Service, []dscpmark.Mark, error) {
	isvcs, err := d.services(only)
	if err != nil {
		return nil, nil, fmt.Errorf("read IPVS services: %w", err)
	}
	marks, err := d.marks.List()
	if err != nil {
		return nil, nil, fmt.Errorf("read DSCP marks: %w", err)
	}
	byKey := map[Key]dscpmark.Mark{}
	for _, m := range marks {
		byKey[Key{VIP: m.VIP, Port: m.Port, Proto: ipvs.Protocol(m.Proto)}] = m
	}
	var out []Service
	for _, is := range isvcs {
		if is.FWMark != 0 || !is.Address.IsValid() {
			continue
		}
		s := Service{
			Key:       Key{VIP: is.Address, Port: is.Port, Proto: is.Protocol},
			Scheduler: is.Scheduler,
			Stats:     is.Stats,
		}
		if is.Flags&ipvs.FlagPersistent != 0 {
			s.Persistent = is.Timeout
		}
		s.Netmask, s.SchedFlags = readNetmask(is), schedFlagsOf(is.Flags)
		s.OnePacket, s.PE = is.Flags&ipvs.FlagOnePacket != 0, is.PEName
		dests, err := d.ipvs.Destinations(is)
		if err != nil {
			return nil, nil, fmt.Errorf("read real servers of %s: %w", s.Key, err)
		}
		// The kernel puts a new destination at the head of the service's
		// list, and dumps it head first: reversed, the reals are in the
		// order they were added, the order mh's table is built from
		// (backwards), and an add goes at their end.
		slices.Reverse(dests)
		fwd := make([]ipvs.ForwardMethod, 0, len(dests))
		for _, dst := range dests {
			fwd = append(fwd, dst.Forward)
			r := Real{
				Addr: dst.Address, Weight: dst.Weight,
				UpperThreshold: dst.UpperThreshold, LowerThreshold: dst.LowerThreshold,
				Forward:     dst.Forward,
				ActiveConns: dst.ActiveConns, InactiveConns: dst.InactiveConns,
				PersistConns: dst.PersistConns, Stats: dst.Stats,
			}
			if dst.Forward == ipvs.Tunnel {
				r.Tunnel, r.TunnelPort, r.TunnelFlags = dst.TunnelType, dst.TunnelPort, dst.TunnelFlags
			}
			if dst.Port != is.Port {
				r.Port = dst.Port
			}
			s.Reals = append(s.Reals, r)
		}
		m, marked := byKey[s.Key]
		s.Mode, s.Managed = modeOf(marked, is.Flags, fwd)
		if marked {
			s.DSCP = m.DSCP
		}
		// The reals stay in the kernel's order, which mh hashes by: a
		// batch's view needs it (AddReal, Reorder); status sorts them.
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Service) int { return compareKey(a.Key, b.Key) })
	return out, marks, nil
}

func compareKey(a, b Key) int {
	return cmp.Or(a.VIP.Compare(b.VIP), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
}

// find returns the index of service k in svcs.
func find(svcs []Service, k Key) (int, bool) {
	i := slices.IndexFunc(svcs, func(s Service) bool { return s.Key == k })
	return i, i >= 0
}

// edit sets *dst to *v when an edit gives v.
func edit[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func markOf(s Service) dscpmark.Mark {
	return dscpmark.Mark{VIP: s.VIP, Proto: uint8(s.Proto), Port: s.Port, DSCP: s.DSCP}
}

func fmtAddrPort(m dscpmark.Mark) string {
	return netip.AddrPortFrom(m.VIP, m.Port).String()
}
