package xtrule

import (
	"net/netip"
	"strings"
)

// Rule is one DADDR rule found in the network namespace, whoever wrote it:
// the single source of "which code goes to which VIP here" besides the
// module's own table.
type Rule struct {
	Family Family
	// Backend is Legacy or NFT: the rules of both run in the kernel,
	// whichever the system's default iptables is.
	Backend Variant
	Table   string // raw or mangle
	Chain   string // PREROUTING, INPUT, or a user chain jumped to from them
	// Num is the rule's 1-based number in its chain, as -D and -I count.
	Num int
	// Line is the rule as `iptables -S` prints it: "-A INPUT -m dscp ...".
	Line string
	// Map: the rule is `-j DADDR --map` (the VIP comes from the table);
	// otherwise it is a revision-0 style `--set-daddr VIP` rule.
	Map bool
	// VIP is the --set-daddr address (not Map).
	VIP netip.Addr
	// DSCP is the code the rule matches (-m dscp --dscp N, or a class),
	// -1 when it has no dscp match: then it matches every code.
	DSCP int
	// NotDSCP: the dscp match is negated (! --dscp N): every code but DSCP.
	NotDSCP bool
	// Dst is the destination the rule is limited to (-d ADDR/32 or /128),
	// the zero Addr if none.
	Dst netip.Addr
	// Extra lists the other matches ("-i eth0", "-p tcp -m tcp --dport
	// 80"), which make the rule match less than its code.
	Extra []string
	// Ours: this is l3dsr's own map-mode rule (raw PREROUTING, exactly
	// "-j DADDR --map" or "-i IFACE -j DADDR --map", as Rules.Ensure
	// appends it).
	Ours bool
	// Ingress is the interface l3dsr's own rule is limited to; "" for
	// the rule that looks up packets from every interface.
	Ingress string
}

// Binary is the iptables binary of the rule's family and backend.
func (r Rule) Binary() string {
	return (&Rules{Variant: r.Backend}).Binary(r.Family)
}

// Command is the rule as `iptables -t TABLE -S` prints it, with the binary
// of its backend: the command that appends it ("iptables-nft -t raw -A ...").
func (r Rule) Command() string { return r.Binary() + " -t " + r.Table + " " + r.Line }

// DeleteCommand is the command that deletes the rule, by its specification
// (which stays right when rules before it go first).
func (r Rule) DeleteCommand() string {
	return r.Binary() + " -t " + r.Table + " -D " + strings.TrimPrefix(r.Line, "-A ")
}

// Covers reports whether the rule acts on packets marked with code d.
func (r Rule) Covers(d uint8) bool {
	return r.DSCP < 0 || (r.DSCP == int(d)) != r.NotDSCP
}

// Exact reports whether the rule matches its one code and nothing else
// (a -d destination aside: that is a local address, which the config
// file can say).
func (r Rule) Exact() bool { return r.DSCP >= 0 && !r.NotDSCP && len(r.Extra) == 0 }

// BeforeConntrack reports whether the rule runs before conntrack records
// the connection: raw does, mangle (PREROUTING and INPUT) does not, so
// conntrack records the server's address and replies from the VIP match
// no entry.
func (r Rule) BeforeConntrack() bool { return r.Table == "raw" }
