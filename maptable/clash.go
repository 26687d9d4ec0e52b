package maptable

import (
	"fmt"
	"slices"
)

// Clash reports whether a and b cannot both be in one table: the same key
// (family, DSCP, local address) standing for two different VIPs. It is the
// one rule by which two VIPs clash, for the config check, 'realserver up'
// and the director's check alike. The family is part of the key, so an IPv4
// and an IPv6 VIP (a dual-stack service) may share a code; an entry limited
// to one local address and one for any address may too, since the kernel
// looks the local address up first.
func Clash(a, b Entry) bool { return a.Key() == b.Key() && a.VIP != b.VIP }

// shadowing says which entries of table e shadows, or is shadowed by,
// under the kernel's lookup order ((DSCP, local), then (DSCP, any local),
// then (any DSCP, local): kmod/uapi/linux/l3dsr.h). Unlike a Clash, both
// may be in the table; but an any-DSCP entry (addr mode) then does not get
// every packet to its address, which its owner may not expect. Each
// warning names the packets, the VIP they go to and the one they do not.
// Entries of the same VIP, or of e's key (which e replaces), do not count.
func shadowing(table []Entry, e Entry) []string {
	var out []string
	k := e.Key()
	for _, o := range table {
		ok := o.Key()
		if o.VIP == e.VIP || ok.Family != k.Family || ok.AnyDSCP == k.AnyDSCP || ok == k {
			continue
		}
		coded, anyEntry := e, o
		if k.AnyDSCP {
			coded, anyEntry = o, e
		}
		switch {
		case coded.Local == anyEntry.Local:
			out = append(out, fmt.Sprintf("DSCP %d to %s goes to VIP %s, not VIP %s's any-DSCP entry: (DSCP, local) is looked up first",
				coded.DSCP, coded.Local, coded.VIP, anyEntry.VIP))
		case !coded.Local.IsValid():
			out = append(out, fmt.Sprintf("DSCP %d to %s goes to VIP %s (DSCP %d, any local address), not VIP %s's any-DSCP entry: (DSCP, any local) is looked up before (any DSCP, local)",
				coded.DSCP, anyEntry.Local, coded.VIP, coded.DSCP, anyEntry.VIP))
		}
	}
	slices.Sort(out)
	return out
}
