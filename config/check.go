package config

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// check finds what is wrong only in combination: the same thing twice, or
// two things that the kernel could not tell apart. Each error names both
// places.
func check(f *File) Errors {
	var errs Errors
	add := func(p Pos, format string, a ...any) {
		errs = append(errs, Error{p, fmt.Sprintf(format, a...)})
	}
	if rs := f.realServer; rs != nil {
		byVIP := map[netip.Addr]Pos{}
		type owned struct {
			e   maptable.Entry
			pos Pos
		}
		byKey := map[maptable.Key]owned{}
		byRIP := map[netip.Addr]owned{}
		for _, v := range rs.VIPs {
			c := v.Config
			if !once(&errs, byVIP, c.VIP, v.pos, "VIP "+c.VIP.String()) {
				continue
			}
			if o, ok := byRIP[c.RIP]; ok && c.Mode == dsrtypes.ModeAddr {
				add(v.pos, "VIPs %s and %s (at %s) both use RIP %s: the real server could not tell them apart; give each addr-mode VIP a rip of its own", c.VIP, o.e.VIP, o.pos, c.RIP)
			} else if c.Mode == dsrtypes.ModeAddr {
				byRIP[c.RIP] = owned{maptable.Entry{VIP: c.VIP}, v.pos}
			}
			if c.Mode != dsrtypes.ModeDSCP {
				continue
			}
			// Each code is a key of its own: the clash rule holds for
			// each, and a code twice for one VIP is a duplicate.
			seen := map[uint8]Pos{}
			for i, d := range v.codes {
				p := v.codePos[i]
				if !once(&errs, seen, d, p, fmt.Sprintf("DSCP %d of VIP %s", d, c.VIP)) {
					continue
				}
				e := entryOf(v.withCode(d))
				if o, ok := byKey[e.Key()]; ok && maptable.Clash(o.e, e) {
					where := ""
					if c.Local.IsValid() {
						where = " for local address " + c.Local.String()
					}
					add(p, "VIPs %s and %s (at %s) both use DSCP %d%s: the real server could not tell them apart; give one of them another dscp (or another local)",
						c.VIP, o.e.VIP, o.pos, d, where)
					continue
				}
				byKey[e.Key()] = owned{e, p}
			}
		}
	}
	if d := f.director; d != nil {
		byKey := map[director.Key]Pos{}
		type owned struct {
			s   director.Service
			pos Pos
		}
		owner := map[maptable.Key]owned{}
		var all []director.Service
		for _, s := range d.Services {
			sv := s.Service
			if !once(&errs, byKey, sv.Key, s.pos, "service "+sv.Key.String()) {
				continue
			}
			all = append(all, sv)
			// owns claims sv's code on the real server r, written at p.
			owns := func(r director.Real, p Pos) {
				e := sv.EntryFor(r)
				if o, ok := owner[e.Key()]; ok && maptable.Clash(o.s.EntryFor(r), e) {
					add(p, "DSCP %d would stand for two VIPs on real server %s: %s (service %s) and %s (service %s at %s); the real server could not tell them apart: give one of the services another dscp",
						sv.DSCP, r.Addr, sv.VIP, sv.Key, o.s.VIP, o.s.Key, o.pos)
					return
				}
				owner[e.Key()] = owned{sv, p}
			}
			seen := map[netip.Addr]Pos{}
			for i, r := range sv.Reals {
				if !once(&errs, seen, r.Addr, s.realPos[i], fmt.Sprintf("real server %s of service %s", r.Addr, sv.Key)) {
					continue
				}
				if sv.Mode == dsrtypes.ModeDSCP {
					owns(r, s.realPos[i])
				}
			}
			// The sorry real gets the service's packets too, code and all.
			if s.Sorry.IsValid() && sv.Mode == dsrtypes.ModeDSCP {
				owns(director.Real{Addr: s.Sorry}, s.sorryPos)
			}
		}
		// The director's own rule, as a net under the one above.
		if len(errs) == 0 {
			if err := director.CheckDSCPConflicts(all); err != nil {
				add(Pos{}, "%v", err)
			}
		}
	}
	return append(errs, checkBGP(f)...)
}

// entryOf is the table entry of a dscp-mode VIP.
func entryOf(c realserver.Config) maptable.Entry {
	return maptable.Entry{DSCP: dsrtypes.DSCP(*c.DSCP), Local: c.Local, VIP: c.VIP}
}

// once records that k is given at p and reports whether it is the first
// time; a repeat is an error that names both places.
func once[K comparable](errs *Errors, seen map[K]Pos, k K, p Pos, what string) bool {
	if first, dup := seen[k]; dup {
		*errs = append(*errs, Error{p, fmt.Sprintf("%s is given twice (also at %s): keep one", what, first)})
		return false
	}
	seen[k] = p
	return true
}
