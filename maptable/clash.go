package maptable

// Clash reports whether a and b cannot both be in one table: the same key
// (family, DSCP, local address) standing for two different VIPs. It is the
// one rule by which two VIPs clash, for the config check, 'realserver up'
// and the director's check alike. The family is part of the key, so an IPv4
// and an IPv6 VIP (a dual-stack service) may share a code; an entry limited
// to one local address and one for any address may too, since the kernel
// looks the local address up first.
func Clash(a, b Entry) bool { return a.Key() == b.Key() && a.VIP != b.VIP }
