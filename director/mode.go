package director

import (
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// The modes Show reads but no one asks for: a service whose reals forward
// by more than one method, and one with no real server to tell (none, or
// only local ones) that l3dsr did not make.
const (
	modeMixed dsrtypes.Mode = "mixed"
	modeNone  dsrtypes.Mode = "none"
)

// l3dsr's record of a service it made: a tag in the top three bits of its
// IPVS flags, which no IPVS flag uses; the kernel keeps and dumps a
// service's flags as given (ip_vs_add_service, _edit_service). IPVS keeps
// the forwarding method per real server, so without the tag a service of
// l3dsr's with no real server yet could not be told from one made by
// ipvsadm, nor a dscp service that lost its mark from plain LVS-NAT. drTag
// is the first tag, from before the others: a dr service made then reads
// the same. 'ipvsadm -R' drops the tag (ipvsadm -S does not write it): such
// a service reads as made by ipvsadm, with its mode from its reals, except a
// dscp one, which its mark still names. The tag is what tells an addr
// service from plain LVS-NAT: both masquerade and neither has a mark, so
// an addr service that lost its tag that way reads as nat.
const (
	tagMask ipvs.ServiceFlags = 7 << 29
	drTag   ipvs.ServiceFlags = 1 << 31
	ipipTag ipvs.ServiceFlags = 1 << 30
	dscpTag ipvs.ServiceFlags = 3 << 30
	natTag  ipvs.ServiceFlags = 1 << 29
	addrTag ipvs.ServiceFlags = 5 << 29
)

// tagOf is the tag of a service of mode m that l3dsr makes.
func tagOf(m dsrtypes.Mode) ipvs.ServiceFlags {
	switch m {
	case dsrtypes.ModeDSCP, "":
		return dscpTag
	case dsrtypes.ModeIPIP:
		return ipipTag
	case dsrtypes.ModeDR:
		return drTag
	case dsrtypes.ModeNAT:
		return natTag
	case dsrtypes.ModeAddr:
		return addrTag
	}
	return 0
}

// Forward is the IPVS forwarding method of the reals of a service of mode m.
func Forward(m dsrtypes.Mode) ipvs.ForwardMethod {
	switch m {
	case dsrtypes.ModeIPIP:
		return ipvs.Tunnel
	case dsrtypes.ModeDR:
		return ipvs.Route
	}
	return ipvs.Masquerade
}

// modeOf is the one mapping from what the kernel holds for a service to its
// mode, and whether l3dsr manages it. marked says that l3dsr's DSCP mark for
// the service is in the nft map; flags are its IPVS flags and fwd its reals'
// forwarding methods.
//
// A service of l3dsr's (a mark, or a tag) has the mode its record names: the
// mark or dscpTag dscp (a dscp service without its mark cannot work: Show
// says so), ipipTag ipip, drTag dr, natTag nat, addrTag addr; a real that forwards
// otherwise is Show's problem. Any other service has the mode of its reals: masq is nat
// (plain LVS-NAT), tunnel ipip (any tunnel type), route dr, more than one
// method mixed, and none or only local reals (which the kernel delivers
// here, whatever method was asked) none.
func modeOf(marked bool, flags ipvs.ServiceFlags, fwd []ipvs.ForwardMethod) (mode dsrtypes.Mode, managed bool) {
	switch {
	case marked || flags&tagMask == dscpTag:
		return dsrtypes.ModeDSCP, true
	case flags&tagMask == ipipTag:
		return dsrtypes.ModeIPIP, true
	case flags&tagMask == drTag:
		return dsrtypes.ModeDR, true
	case flags&tagMask == natTag:
		return dsrtypes.ModeNAT, true
	case flags&tagMask == addrTag:
		return dsrtypes.ModeAddr, true
	}
	mode = modeNone
	for _, f := range fwd {
		var m dsrtypes.Mode
		switch f {
		case ipvs.Local:
			continue
		case ipvs.Masquerade:
			m = dsrtypes.ModeNAT
		case ipvs.Tunnel:
			m = dsrtypes.ModeIPIP
		case ipvs.Route:
			m = dsrtypes.ModeDR
		default:
			m = dsrtypes.Mode(f.String())
		}
		if mode != modeNone && mode != m {
			return modeMixed, false
		}
		mode = m
	}
	return mode, false
}
