package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/spf13/cobra"
)

// mapTable is what the rule commands use of maptable.Table.
type mapTable interface {
	Add(e maptable.Entry, replace bool) error
	Delete(k maptable.Key) error
	Get(k maptable.Key) (maptable.Entry, error)
	List() ([]maptable.Entry, error)
	Flush(f dsrtypes.Family) error
	Stats() (maptable.Stats, error)
	Close() error
}

// mapRules is what the rule commands use of xtrule.Rules.
type mapRules interface {
	Ensure(ctx context.Context, f xtrule.Family) (bool, error)
	Delete(ctx context.Context, f xtrule.Family) error
	Exists(ctx context.Context, f xtrule.Family) (bool, error)
}

// The system the rule commands act on. Tests replace these; every command
// validates its whole command line before calling either.
var (
	dialTable = func() (mapTable, error) {
		if err := needNetAdmin(); err != nil {
			return nil, err
		}
		return maptable.Dial()
	}
	newRules = func(v xtrule.Variant) mapRules { return &xtrule.Rules{Variant: v} }
)

// iptablesEnv chooses the iptables variant when --iptables is not given.
const iptablesEnv = "L3DSR_IPTABLES"

func newRuleCmd(sys *system) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rule",
		Short: "Manage the DSCP→VIP table of xt_DADDR's map mode (on a real server)",
		Long: `The rule commands manage the real server's table that xt_DADDR's map mode looks
packets up in: (family, DSCP, local destination address or any) → VIP. One
iptables rule serves every entry:

  iptables  -t raw -A PREROUTING -j DADDR --map
  ip6tables -t raw -A PREROUTING -j DADDR --map

'rule add' appends it when it is missing. 'rule replace -f FILE' swaps in a
whole table (the format 'rule list -o json' prints) atomically. The table is
per network namespace.

DSCP codes are 0-63, in decimal or hex (10 or 0x0a).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("'l3dsr rule' needs a subcommand: add, del, list, replace, flush or stats")
		},
	}
	cmd.AddCommand(newRuleAddCmd(), newRuleDelCmd(), newRuleListCmd(), newRuleFlushCmd(), newRuleStatsCmd(), newRuleReplaceCmd())
	return cmd
}

func newRuleAddCmd() *cobra.Command {
	var dscp, vip, local, variant string
	var replace bool
	cmd := &cobra.Command{
		Use:   "add --dscp N --vip ADDR [--local ADDR] [--replace]",
		Short: "Map a DSCP code (and optionally a local address) to a VIP",
		Long: `Map a DSCP code, optionally only for packets to one local address, to a VIP.
Makes sure the one map-mode rule is in raw PREROUTING for the VIP's family
(appending it if it is missing, never a second one), then adds the entry.
An existing entry is an error unless --replace is given.

The iptables binaries are iptables/ip6tables (the system's default), or the
legacy or nft ones with --iptables legacy|nft or ` + iptablesEnv + `=legacy|nft.`,
		Example: `  l3dsr rule add --dscp 1 --vip 10.0.0.1
  l3dsr rule add --dscp 0x0a --vip 2001:db8::1 --local 2001:db8::10
  l3dsr rule add --dscp 1 --vip 10.0.0.2 --replace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("dscp") {
				return usageErrorf("--dscp is missing: give the code 0-63 (decimal or hex, e.g. 10 or 0x0a)")
			}
			code, err := parseDSCP(dscp)
			if err != nil {
				return err
			}
			if !fl.Changed("vip") {
				return usageErrorf("--vip is missing: give the VIP that DSCP %d stands for, e.g. --vip 10.0.0.1", code)
			}
			e := maptable.Entry{DSCP: dsrtypes.DSCP(code)}
			if e.VIP, err = parseAddr("--vip", vip); err != nil {
				return err
			}
			if fl.Changed("local") {
				if e.Local, err = parseAddr("--local", local); err != nil {
					return err
				}
			}
			if err := e.Validate(); err != nil {
				return &usageError{err}
			}
			v, err := iptablesVariant(fl.Changed("iptables"), variant)
			if err != nil {
				return err
			}
			return ruleAdd(cmd.Context(), cmd.OutOrStdout(), e, replace, v)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dscp, "dscp", "", "DSCP code, 0-63, decimal or hex (0x0a)")
	fl.StringVar(&vip, "vip", "", "the VIP the code stands for")
	fl.StringVar(&local, "local", "", "only for packets to this local address (default: any)")
	fl.BoolVar(&replace, "replace", false, "replace the VIP of an existing entry (its counters are kept)")
	fl.StringVar(&variant, "iptables", "", "iptables variant: default, legacy or nft (default $"+iptablesEnv+", else the system's)")
	return cmd
}

func ruleAdd(ctx context.Context, out io.Writer, e maptable.Entry, replace bool, v xtrule.Variant) error {
	fam := dsrtypes.FamilyOf(e.VIP)
	e.Family = fam
	t, err := dialTable()
	if err != nil {
		return err
	}
	defer t.Close()
	if !replace {
		// Refuse a duplicate before touching iptables.
		old, err := t.Get(e.Key())
		switch {
		case err == nil:
			return fmt.Errorf("%v already maps to VIP %s: use --replace to change it", e.Key(), old.VIP)
		case !errors.Is(err, maptable.ErrNotFound):
			return err
		}
	}
	rules := newRules(v)
	xf := xtFamily(fam)
	added, err := rules.Ensure(ctx, xf)
	if err != nil {
		return fmt.Errorf("adding the map-mode rule: %w", err)
	}
	if err := t.Add(e, replace); err != nil {
		if added {
			// Leave nothing half-applied: the rule was not there before.
			if derr := rules.Delete(ctx, xf); derr != nil {
				return fmt.Errorf("%w (and removing the map-mode rule appended for it failed: %v)", err, derr)
			}
			return fmt.Errorf("%w (the map-mode rule appended for it was removed again)", err)
		}
		return err
	}
	if added {
		fmt.Fprintf(out, "appended the map-mode rule for %v: %s -t raw -A %s\n", fam, (&xtrule.Rules{Variant: v}).Binary(xf), strings.Join(xtrule.MapRule, " "))
	}
	verb := "added"
	if replace {
		verb = "set"
	}
	fmt.Fprintf(out, "%s %v\n", verb, e)
	return nil
}

func xtFamily(f dsrtypes.Family) xtrule.Family {
	if f == dsrtypes.IPv6 {
		return xtrule.IPv6
	}
	return xtrule.IPv4
}

func newRuleDelCmd() *cobra.Command {
	var dscp, local, family string
	cmd := &cobra.Command{
		Use:   "del --dscp N [--local ADDR] [--family 4|6]",
		Short: "Delete the entry of a DSCP code (and local address)",
		Long: `Delete one entry. Its family comes from --local, or --family; with neither, the
entry of that code with local address any is looked up in both families, and
deleted if exactly one exists. The map-mode rule stays.`,
		Example: `  l3dsr rule del --dscp 1
  l3dsr rule del --dscp 10 --local 10.1.0.10
  l3dsr rule del --dscp 1 --family 6`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("dscp") {
				return usageErrorf("--dscp is missing: give the code of the entry to delete")
			}
			code, err := parseDSCP(dscp)
			if err != nil {
				return err
			}
			k := maptable.Key{DSCP: dsrtypes.DSCP(code)}
			if fl.Changed("family") {
				if k.Family, err = parseFamily(family); err != nil {
					return err
				}
			}
			if fl.Changed("local") {
				if k.Local, err = parseAddr("--local", local); err != nil {
					return err
				}
				lf := dsrtypes.FamilyOf(k.Local)
				if k.Family != dsrtypes.AnyFamily && k.Family != lf {
					return usageErrorf("--family %s does not match --local %s (%v): leave --family out", family, k.Local, lf)
				}
				k.Family = lf
			}
			if k.Family != dsrtypes.AnyFamily || k.Local.IsValid() {
				if err := k.Validate(); err != nil {
					return &usageError{err}
				}
			}
			return ruleDel(cmd.OutOrStdout(), k)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dscp, "dscp", "", "DSCP code, 0-63, decimal or hex (0x0a)")
	fl.StringVar(&local, "local", "", "the entry's local address (default: any)")
	fl.StringVar(&family, "family", "", "the entry's family, 4 or 6 (default: from --local, else looked up)")
	return cmd
}

func ruleDel(out io.Writer, k maptable.Key) error {
	t, err := dialTable()
	if err != nil {
		return err
	}
	defer t.Close()
	if k.Family == dsrtypes.AnyFamily && !k.Local.IsValid() {
		var found []dsrtypes.Family
		for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
			_, err := t.Get(maptable.Key{Family: f, DSCP: k.DSCP})
			switch {
			case err == nil:
				found = append(found, f)
			case !errors.Is(err, maptable.ErrNotFound):
				return err
			}
		}
		switch len(found) {
		case 0:
			return fmt.Errorf("no entry for DSCP %d with local address any, in either family", k.DSCP)
		case 2:
			return usageErrorf("DSCP %d with local address any has an entry in both families: give --family 4 or --family 6", k.DSCP)
		}
		k.Family = found[0]
	}
	if err := t.Delete(k); err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted %v\n", k)
	return nil
}

// withTable dials the table, runs fn with it and closes it again.
func withTable(fn func(t mapTable) error) error {
	t, err := dialTable()
	if err != nil {
		return hostError(err)
	}
	defer t.Close()
	return fn(t)
}

func newRuleListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [-o table|json]",
		Short: "List the table's entries with their counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withTable(func(t mapTable) error {
				entries, err := t.List()
				if err != nil {
					return hostError(fmt.Errorf("listing the DSCP map: %w", err))
				}
				return printEntries(cmd.OutOrStdout(), entries, output)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newRuleFlushCmd() *cobra.Command {
	var family string
	cmd := &cobra.Command{
		Use:   "flush [--family 4|6]",
		Short: "Delete every entry (of one family)",
		Long:  "Delete every entry of the table, or of one family. The map-mode rules stay.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := dsrtypes.AnyFamily
			if cmd.Flags().Changed("family") {
				var err error
				if f, err = parseFamily(family); err != nil {
					return err
				}
			}
			return withTable(func(t mapTable) error {
				if err := t.Flush(f); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "flushed %v\n", f)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&family, "family", "", "only this family, 4 or 6 (default: both)")
	return cmd
}

func newRuleStatsCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "stats [-o table|json]",
		Short: "Show the table's totals: rewritten, no entry, errors, entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withTable(func(t mapTable) error {
				s, err := t.Stats()
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if output == "json" {
					return writeJSON(out, statsJSON{s.Rewritten, s.NoEntry, s.Errors, s.Entries, s.Generation})
				}
				tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "REWRITTEN\tNO ENTRY\tERRORS\tENTRIES\tGENERATION")
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\n", s.Rewritten, s.NoEntry, s.Errors, s.Entries, s.Generation)
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

type statsJSON struct {
	Rewritten  uint64 `json:"rewritten"`
	NoEntry    uint64 `json:"no_entry"`
	Errors     uint64 `json:"errors"`
	Entries    uint32 `json:"entries"`
	Generation uint32 `json:"generation"`
}

type entryJSON struct {
	Family  string `json:"family"`
	DSCP    uint8  `json:"dscp"`
	Local   string `json:"local"`
	VIP     string `json:"vip"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageErrorf("output format %q is unknown: use -o table or -o json", o)
	}
	return nil
}

func familyName(f dsrtypes.Family) string {
	switch f {
	case dsrtypes.IPv4:
		return "ipv4"
	case dsrtypes.IPv6:
		return "ipv6"
	}
	return f.String()
}

func localName(a netip.Addr) string {
	if !a.IsValid() {
		return "any"
	}
	return a.String()
}

// printEntries prints entries sorted by family, DSCP, then local address
// (any first).
func printEntries(w io.Writer, entries []maptable.Entry, format string) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b maptable.Entry) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.DSCP, b.DSCP), a.Local.Compare(b.Local))
	})
	if format == "json" {
		out := make([]entryJSON, 0, len(entries))
		for _, e := range entries {
			out = append(out, entryJSON{familyName(e.Family), uint8(e.DSCP), localName(e.Local), e.VIP.String(), e.Packets, e.Bytes})
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FAMILY\tDSCP\tLOCAL\tVIP\tPACKETS\tBYTES")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\n", familyName(e.Family), e.DSCP, localName(e.Local), e.VIP, e.Packets, e.Bytes)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseDSCP parses a DSCP code as iptables' --dscp does: decimal, or hex
// with 0x. A leading 0 (which iptables would read as octal) is refused as
// ambiguous.
func parseDSCP(s string) (uint8, error) {
	t := strings.TrimSpace(s)
	var v uint64
	var err error
	switch {
	case t == "":
		return 0, usageErrorf("--dscp is empty: give the code 0-%d (decimal or hex, e.g. 10 or 0x0a)", dsrtypes.MaxDSCP)
	case len(t) >= 2 && (t[:2] == "0x" || t[:2] == "0X"):
		v, err = strconv.ParseUint(t[2:], 16, 64)
	case len(t) > 1 && t[0] == '0':
		return 0, usageErrorf("DSCP %q is ambiguous (iptables reads a leading 0 as octal): write it in decimal without the 0, or in hex (0x..)", s)
	default:
		v, err = strconv.ParseUint(t, 10, 64)
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, usageErrorf("DSCP %q is not a number: give the code 0-%d in decimal or hex (e.g. 10 or 0x0a)", s, dsrtypes.MaxDSCP)
	}
	if err != nil || v > uint64(dsrtypes.MaxDSCP) {
		if t != strconv.FormatUint(v, 10) && err == nil {
			return 0, usageErrorf("DSCP %s (%d) is out of range: use 0-%d", t, v, dsrtypes.MaxDSCP)
		}
		return 0, usageErrorf("DSCP %s is out of range: use 0-%d", t, dsrtypes.MaxDSCP)
	}
	return uint8(v), nil
}

// parseAddr parses one address flag.
func parseAddr(flag, s string) (netip.Addr, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return netip.Addr{}, usageErrorf("%s is empty: give an IPv4 or IPv6 address", flag)
	}
	a, err := netip.ParseAddr(t)
	if err == nil {
		return a, nil
	}
	if p, perr := netip.ParsePrefix(t); perr == nil {
		return netip.Addr{}, usageErrorf("%s %q is a prefix: give the address alone, e.g. %s %s", flag, s, flag, p.Addr())
	}
	return netip.Addr{}, usageErrorf("%s %q is not an IP address: give an IPv4 or IPv6 address, e.g. %s 10.0.0.1", flag, s, flag)
}

// parseFamily parses --family: 4, 6, ipv4, ipv6, inet, inet6.
func parseFamily(s string) (dsrtypes.Family, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "4", "ipv4", "inet":
		return dsrtypes.IPv4, nil
	case "6", "ipv6", "inet6":
		return dsrtypes.IPv6, nil
	}
	return 0, usageErrorf("--family %q is unknown: use 4 or 6", s)
}

// iptablesVariant takes --iptables when given, else $L3DSR_IPTABLES.
func iptablesVariant(flagSet bool, flag string) (xtrule.Variant, error) {
	s, what := flag, "--iptables"
	if !flagSet {
		s, what = os.Getenv(iptablesEnv), "$"+iptablesEnv
	}
	v, err := xtrule.ParseVariant(s)
	if err != nil {
		return v, usageErrorf("%s: %v", what, err)
	}
	return v, nil
}

// ruleSystem is the part of system the rule commands act on.
type ruleSystem struct{}

func hostRuleSystem() ruleSystem { return ruleSystem{} }
