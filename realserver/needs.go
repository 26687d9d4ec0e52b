package realserver

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/sysctl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// What a set of VIPs needs of the system. Up ensures it, Down keeps what
// the remaining VIPs need, Show checks it.

// sysctlNeed is one kernel parameter the VIPs need.
type sysctlNeed struct {
	Key  string
	Want string
	// OK lists the values that do the job (Want among them).
	OK  []string
	Why string
}

func (n sysctlNeed) ok(v string) bool { return slices.Contains(n.OK, v) }

// tunnel is the fallback device of the tunnel module of a family.
type tunnel struct{ Name, Kind string }

var (
	tunnel4 = tunnel{"tunl0", "ipip"}
	tunnel6 = tunnel{"ip6tnl0", "ip6tnl"}
)

func tunnelOf(c Config) tunnel {
	if c.VIP.Is4() {
		return tunnel4
	}
	return tunnel6
}

// rpEnv is what the rp_filter needs of ipip mode depend on: the
// interfaces, and each key's value from before l3dsr changed it.
type rpEnv struct {
	// ifaces are the links whose rp_filter must keep its effective value
	// when conf/all is lowered (not lo, whose packets are never checked,
	// nor tunl0).
	ifaces []string
	// orig is the value of key before Up changed it (the recorded old
	// value, else the current one); false if it cannot be read.
	orig func(key string) (string, bool)
}

// sysctlNeeds lists, sorted by key, the parameters the VIPs need. For
// arp_ignore, arp_announce and rp_filter the kernel uses the larger of
// conf/all and conf/IFACE, which decides where each is set. env is needed
// only when an IPv4 ipip-mode VIP is among vips.
func sysctlNeeds(vips []Config, env *rpEnv) []sysctlNeed {
	return kindsOf(vips...).needs(env)
}

// vipKinds is what the sysctls VIPs need depend on: which kinds of IPv4
// VIPs there are. A batch keeps it for its VIPs, so that a call need not
// walk them all.
type vipKinds struct{ v4, dscp4, ipip4 bool }

func kindsOf(vips ...Config) vipKinds {
	var k vipKinds
	for _, c := range vips {
		k = k.with(c)
	}
	return k
}

func (k vipKinds) with(c Config) vipKinds {
	if c.VIP.Is4() {
		// Every mode holds the VIP on lo, so every mode needs the ARP
		// settings; dr mode needs nothing else (its packets arrive as
		// client -> VIP on the interface the route back leaves by, as any).
		k.v4 = true
		k.dscp4 = k.dscp4 || c.mapped() // addr mode: the same rewrite
		k.ipip4 = k.ipip4 || c.mode() == dsrtypes.ModeIPIP
	}
	return k
}

func (k vipKinds) needs(env *rpEnv) []sysctlNeed {
	v4, dscp4, ipip4 := k.v4, k.dscp4, k.ipip4
	var n []sysctlNeed
	if v4 {
		// On all: max(all, IFACE) then holds on every interface, including
		// ones added later. 1 answers ARP only for addresses of the
		// receiving interface (never for the VIP on lo); 2 and 8 are
		// stricter and fine; 3 would answer for the VIP (scope global).
		n = append(n, sysctlNeed{sysctl.IPv4Conf("all", "arp_ignore"), "1", []string{"1", "2", "8"},
			"answers ARP for the VIP on lo, so the router may send the VIP's traffic here instead of to the director"})
		// 2: ARP requests never carry the VIP as sender address, which
		// would teach neighbours that the VIP lives here.
		n = append(n, sysctlNeed{sysctl.IPv4Conf("all", "arp_announce"), "2", []string{"2"},
			"lets ARP requests announce the VIP on lo as this host's address"})
	}
	switch {
	case ipip4 && env != nil:
		n = append(n, ipipRPNeeds(env, dscp4)...)
	case dscp4:
		// Loose: after DADDR the packet is client -> VIP, in on whichever
		// interface the director's path uses; strict mode drops it when the
		// route back to the client leaves by another interface. Loose still
		// drops sources with no route at all. On all, max(all, IFACE) is 2
		// on every interface whatever its own value.
		n = append(n, sysctlNeed{sysctl.IPv4Conf("all", "rp_filter"), "2", []string{"2"},
			"makes reverse-path filtering strict (1) or leaves it to each interface (0): marked packets arriving where the route back to the client does not leave are dropped"})
	}
	slices.SortFunc(n, func(a, b sysctlNeed) int { return cmp.Compare(a.Key, b.Key) })
	return n
}

// ipipRPNeeds: the decapsulated packet (client -> VIP) comes in on tunl0,
// which has no IPv4 address, and the kernel's reverse-path check drops
// every packet from an interface without one, in strict and in loose mode
// alike (fib_validate_source: no address and rp_filter on: drop). So
// tunl0's effective value must be 0, which takes 0 on tunl0 and on
// conf/all (the kernel uses the larger). To keep every other interface as
// it was, each gets max(old all, its own old value) as its own value, and
// so does conf/default for interfaces made later; with dscp-mode VIPs
// too, a strict 1 there becomes loose 2 (see the dscp-mode need).
func ipipRPNeeds(env *rpEnv, dscp4 bool) []sysctlNeed {
	allKey := sysctl.IPv4Conf("all", "rp_filter")
	n := []sysctlNeed{
		{allKey, "0", []string{"0"}, "is above 0, so rp_filter stays on for tunl0 (the kernel takes the larger of all and tunl0), which has no address: every decapsulated packet is dropped"},
		{sysctl.IPv4Conf(tunnel4.Name, "rp_filter"), "0", []string{"0"}, "turns rp_filter on for tunl0, which has no address: every decapsulated packet is dropped"},
	}
	allOld, ok := env.orig(allKey)
	if !ok {
		allOld = "0"
	}
	for _, i := range append(slices.Clone(env.ifaces), "default") {
		k := sysctl.IPv4Conf(i, "rp_filter")
		own, ok := env.orig(k)
		if !ok {
			continue
		}
		want := maxValue(allOld, own)
		if dscp4 && want == "1" {
			want = "2"
		}
		if want != own {
			n = append(n, sysctlNeed{k, want, []string{want}, fmt.Sprintf(
				"differs from %s, the value that keeps %s as it was before conf/all/rp_filter was lowered to 0 for tunl0", want, i)})
		}
	}
	return n
}

// maxValue is the larger of two integer sysctl values (a if b is not a
// number).
func maxValue(a, b string) string {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA != nil:
		return b
	case errB != nil || x >= y:
		return a
	}
	return b
}

func hasKey(n []sysctlNeed, key string) bool {
	return slices.ContainsFunc(n, func(x sysctlNeed) bool { return x.Key == key })
}

// famKey names a family in the state file.
func famKey(c Config) string {
	if c.VIP.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

func xtFamilyOf(c Config) xtrule.Family { return dsrtypes.FamilyOf(c.VIP) }

// needsRule reports whether a dscp-mode VIP of family fam is among vips.
func needsRule(vips []Config, fam string) bool {
	for _, c := range vips {
		if c.mapped() && c.Backend != dsrtypes.BackendBPF && famKey(c) == fam {
			return true
		}
	}
	return false
}

// needsLink reports whether an ipip-mode VIP needs the tunnel device name.
func needsLink(vips []Config, name string) bool {
	for _, c := range vips {
		if c.mode() == dsrtypes.ModeIPIP && tunnelOf(c).Name == name {
			return true
		}
	}
	return false
}

// clampsOf lists the clamps of the ipip-mode VIPs, sorted by VIP.
func clampsOf(vips []Config) []clamp {
	var out []clamp
	for _, c := range vips {
		if c.mode() == dsrtypes.ModeIPIP {
			out = append(out, clamp{VIP: c.VIP, MSS: c.MSS})
		}
	}
	sortClamps(out)
	return out
}

func sortClamps(c []clamp) {
	slices.SortFunc(c, func(a, b clamp) int { return a.VIP.Compare(b.VIP) })
}

func configs(v []vipRecord) []Config {
	out := make([]Config, len(v))
	for i := range v {
		out[i] = v[i].Config
	}
	return out
}

// clashes reports whether two VIPs cannot both be set up: they need one map
// key for two VIPs (maptable.Clash). Only dscp-mode (one code) and
// addr-mode VIPs have a key.
func clashes(a, b Config) bool {
	return a.keyed() && b.keyed() && maptable.Clash(a.entry(), b.entry())
}

// keyed reports whether c has one map key: a dscp-mode VIP with its code,
// or an addr-mode VIP with its RIP.
func (c Config) keyed() bool {
	return (c.mode() == dsrtypes.ModeDSCP && c.DSCP != nil) || (c.mode() == dsrtypes.ModeAddr && c.RIP.IsValid())
}
