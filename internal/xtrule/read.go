package xtrule

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
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
	// "-j DADDR --map", as Rules.Ensure appends it).
	Ours bool
}

// Binary is the iptables binary of the rule's family and backend.
func (r Rule) Binary() string {
	return (&Rules{Variant: r.Backend}).Binary(r.Family)
}

// Spec is the rule as `iptables -t TABLE -S` prints it: "-t raw -A ...".
func (r Rule) Spec() string { return "-t " + r.Table + " " + r.Line }

// Command is the command that appends the rule: "iptables-nft -t raw -A ...".
func (r Rule) Command() string { return r.Binary() + " " + r.Spec() }

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

// tables are the tables DADDR is allowed in (PREROUTING of both, INPUT of
// mangle, and user chains jumped to from those).
var tables = []string{"raw", "mangle"}

// Reader reads every DADDR rule of the network namespace, for both
// families and both backends.
type Reader struct {
	// runCmd runs the binaries; nil means execCmd.
	runCmd runFunc
	// legacyTables lists the legacy tables the kernel has for a family;
	// nil means reading /proc/net/ip{,6}_tables_names.
	legacyTables func(f Family) (map[string]bool, error)
}

// Read returns the DADDR rules, IPv4 first, legacy before nft, in table
// and rule order. A backend whose binary is missing, or that the kernel
// lacks, has no rules, which is not an error.
func (rd *Reader) Read(ctx context.Context) ([]Rule, error) {
	var out []Rule
	for _, f := range []Family{IPv4, IPv6} {
		for _, v := range []Variant{Legacy, NFT} {
			rules, err := rd.readBackend(ctx, f, v)
			if err != nil {
				return nil, err
			}
			out = append(out, rules...)
		}
	}
	return out, nil
}

func (rd *Reader) readBackend(ctx context.Context, f Family, v Variant) ([]Rule, error) {
	var have map[string]bool
	if v == Legacy {
		// Listing a legacy table the kernel does not have would create it
		// (and load its module); a table that is not there holds no rule.
		lt := rd.legacyTables
		if lt == nil {
			lt = procLegacyTables
		}
		var err error
		if have, err = lt(f); err != nil {
			return nil, err
		}
	}
	run := rd.runCmd
	if run == nil {
		run = execCmd
	}
	bin := (&Rules{Variant: v}).Binary(f)
	var out []Rule
	for _, t := range tables {
		if v == Legacy && !have[t] {
			continue
		}
		args := []string{"-w", "-t", t, "-S"}
		res := run(ctx, bin, args...)
		cmdline := bin + " " + strings.Join(args, " ")
		switch {
		case res.Err != nil && errors.Is(res.Err, exec.ErrNotFound):
			return nil, nil // this backend is not installed
		case res.Err != nil:
			return nil, fmt.Errorf("running %s: %w", cmdline, res.Err)
		case res.ExitCode != 0 && absentTable(res.Stderr):
			continue
		case res.ExitCode != 0:
			return nil, fmt.Errorf("reading the DADDR rules: %w", commandError(cmdline, res))
		}
		rules, err := ParseRules(f, v, t, res.Stdout)
		if err != nil {
			return nil, fmt.Errorf("reading the DADDR rules of %s: %w", cmdline, err)
		}
		out = append(out, rules...)
	}
	return out, nil
}

// absentTable tells an iptables failure that means the kernel has no such
// table or backend (so no rule in it) from a real failure.
func absentTable(stderr string) bool {
	for _, s := range []string{"does not exist", "Table does not exist", "Could not fetch rule set generation id", "Protocol not supported"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// procLegacyTables reads which legacy x_tables tables exist in this
// network namespace; no file means the module is not loaded: none.
func procLegacyTables(f Family) (map[string]bool, error) {
	name := "/proc/net/ip_tables_names"
	if f == IPv6 {
		name = "/proc/net/ip6_tables_names"
	}
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the legacy iptables tables: %w", err)
	}
	have := map[string]bool{}
	for _, t := range strings.Fields(string(b)) {
		have[t] = true
	}
	return have, nil
}
