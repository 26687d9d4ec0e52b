package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/spf13/cobra"
)

// mapRules is what the commands use of xtrule.Rules.
type mapRules interface {
	maptable.Rules
	Exists(ctx context.Context, f xtrule.Family) (bool, error)
}

// ruleSystem is the part of system the rule commands act on. Every command
// validates its whole command line before calling any of it.
type ruleSystem struct {
	dialTable func() (maptable.Table, error)
	newRules  func(v xtrule.Variant) mapRules
	// ensureBPF installs and attaches the tc-BPF backend (--backend bpf).
	ensureBPF func() ([]string, error)
	// stdin is what 'rule replace -f -' reads.
	stdin io.Reader
}

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

DSCP codes are 0-63, in decimal or hex (10 or 0x0a), or any (with --local).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("'l3dsr rule' needs a subcommand: add, del, list, replace, flush, stats or mode")
		},
	}
	rs := &sys.ruleSystem
	cmd.AddCommand(newRuleAddCmd(rs), newRuleDelCmd(rs), newRuleListCmd(rs), newRuleFlushCmd(rs), newRuleStatsCmd(rs), newRuleReplaceCmd(rs), newRuleModeCmd(rs))
	return cmd
}

func newRuleAddCmd(rs *ruleSystem) *cobra.Command {
	var e maptable.Entry
	var vip, local dsrtypes.Addr
	var variant xtrule.VariantFlag
	var replace bool
	var backend dsrtypes.Backend
	cmd := &cobra.Command{
		Use:   "add --dscp N|any --vip ADDR [--local ADDR] [--set-dscp N] [--replace] [--backend bpf]",
		Short: "Map a DSCP code (and optionally a local address) to a VIP",
		Long: `Map a DSCP code, optionally only for packets to one local address, to a VIP.
--dscp any (addr mode) maps every code to --local, which it needs. The kernel
looks up (DSCP, local), then (DSCP, any local), then (any DSCP, local); an add
that shadows another entry, or is shadowed, is warned about. --set-dscp sets
the packet's DSCP after the rewrite (ECN kept). Makes sure the one map-mode rule is in raw PREROUTING for the VIP's family
(appending it if it is missing, never a second one), then adds the entry.
An existing entry is an error unless --replace is given. With --backend bpf
the table is the tc-BPF program's: loaded and attached to every link but lo
first when it is not yet, and no iptables rule is needed.

The iptables binaries are iptables/ip6tables (the system's default), or the
legacy or nft ones with --iptables legacy|nft or ` + xtrule.VariantEnv + `=legacy|nft.`,
		Example: `  l3dsr rule add --dscp 1 --vip 10.0.0.1
  l3dsr rule add --dscp 0x0a --vip 2001:db8::1 --local 2001:db8::10
  l3dsr rule add --dscp any --local 10.1.0.7 --vip 10.0.0.3 --set-dscp 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("dscp") {
				return usageErrorf("--dscp is missing: give the code 0-63 (decimal or hex, e.g. 10 or 0x0a), or any with --local")
			}
			if !fl.Changed("vip") {
				return usageErrorf("--vip is missing: give the VIP that DSCP %s stands for, e.g. --vip 10.0.0.1", fl.Lookup("dscp").Value)
			}
			e.VIP, e.Local = vip.Addr, local.Addr
			if err := e.Validate(); err != nil {
				return &usageError{err}
			}
			v, err := variant.Variant()
			if err != nil {
				return &usageError{err}
			}
			if err := rs.ensure(cmd.OutOrStdout(), backend); err != nil {
				return err
			}
			return rs.add(cmd, e, replace, v)
		},
	}
	fl := cmd.Flags()
	fl.Var(maptable.DSCPFlag(&e.DSCP, &e.AnyDSCP), "dscp", "DSCP code, 0-63, decimal or hex (0x0a), or any (needs --local)")
	fl.Var(maptable.SetDSCPFlag(&e.SetDSCP), "set-dscp", "the DSCP the packet leaves the rewrite with, 0-63 (default: its own)")
	fl.Var(addrFlag("--vip", &vip), "vip", "the VIP the code stands for")
	fl.Var(addrFlag("--local", &local), "local", "only for packets to this local address (default: any)")
	fl.BoolVar(&replace, "replace", false, "replace the VIP of an existing entry (its counters are kept)")
	fl.Var(&backend, "backend", backendUsage)
	fl.Var(&variant, "iptables", "iptables variant: default, legacy or nft (default $"+xtrule.VariantEnv+", else the system's)")
	return cmd
}

const backendUsage = "bpf: the tc-BPF program's table, installed first where it is not (default: the table in use, else the module's)"

// ensure makes the tc-BPF backend serve the table when b is bpf; the
// table in use serves otherwise (the module's where none is installed).
func (rs *ruleSystem) ensure(out io.Writer, b dsrtypes.Backend) error {
	if b == dsrtypes.BackendAuto {
		return usageErrorf("--backend auto is realserver up's: give module or bpf")
	}
	if b != dsrtypes.BackendBPF {
		return nil
	}
	changes, err := rs.ensureBPF()
	for _, c := range changes {
		fmt.Fprintln(out, c)
	}
	return err
}

func (rs *ruleSystem) add(cmd *cobra.Command, e maptable.Entry, replace bool, v xtrule.Variant) error {
	t, err := rs.dialTable()
	if err != nil {
		return err
	}
	defer t.Close()
	added, err := maptable.AddEntry(cmd.Context(), t, rs.newRules(v), e, replace)
	if err != nil {
		return err
	}
	maptable.WriteAdded(cmd.OutOrStdout(), v, e, added, replace)
	for _, w := range added.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}
	return nil
}

func newRuleDelCmd(rs *ruleSystem) *cobra.Command {
	var k maptable.Key
	var local dsrtypes.Addr
	cmd := &cobra.Command{
		Use:   "del --dscp N|any [--local ADDR] [--family 4|6]",
		Short: "Delete the entry of a DSCP code (and local address)",
		Long: `Delete one entry. Its family comes from --local, or --family; with neither, the
entry of that code with local address any is looked up in both families, and
deleted if exactly one exists. The map-mode rule stays.`,
		Example: `  l3dsr rule del --dscp 1
  l3dsr rule del --dscp 10 --local 10.1.0.10
  l3dsr rule del --dscp any --local 10.1.0.7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("dscp") {
				return usageErrorf("--dscp is missing: give the code of the entry to delete")
			}
			k, err := maptable.DelKey(k, fl.Lookup("family").Value.String(), local.Addr)
			if err != nil {
				return &usageError{err}
			}
			return rs.del(cmd.OutOrStdout(), k)
		},
	}
	fl := cmd.Flags()
	fl.Var(maptable.DSCPFlag(&k.DSCP, &k.AnyDSCP), "dscp", "DSCP code, 0-63, decimal or hex (0x0a), or any (needs --local)")
	fl.Var(addrFlag("--local", &local), "local", "the entry's local address (default: any)")
	fl.Var(familyFlag(&k.Family), "family", "the entry's family, 4 or 6 (default: from --local, else looked up)")
	return cmd
}

func (rs *ruleSystem) del(out io.Writer, k maptable.Key) error {
	t, err := rs.dialTable()
	if err != nil {
		return err
	}
	defer t.Close()
	k, err = maptable.ResolveFamily(t, k)
	if errors.Is(err, maptable.ErrBothFamilies) {
		return &usageError{err}
	}
	if err != nil {
		return err
	}
	if err := t.Delete(k); err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted %v\n", k)
	return nil
}

// withTable dials the table, runs fn with it and closes it again.
func (rs *ruleSystem) withTable(fn func(t maptable.Table) error) error {
	t, err := rs.dialTable()
	if err != nil {
		return hostError(err)
	}
	defer t.Close()
	return fn(t)
}

// tableCmd makes a rule command that reads the table and writes what it
// read as -o asks.
func tableCmd(rs *ruleSystem, use, short string, write func(t maptable.Table, w io.Writer, format string) error) *cobra.Command {
	return outputCmd(&cobra.Command{Use: use, Short: short}, func(cmd *cobra.Command, format string) error {
		return rs.withTable(func(t maptable.Table) error { return write(t, cmd.OutOrStdout(), format) })
	})
}

func newRuleListCmd(rs *ruleSystem) *cobra.Command {
	return tableCmd(rs, "list [-o table|json]", "List the table's entries with their counters", func(t maptable.Table, w io.Writer, format string) error {
		return hostError(maptable.WriteList(w, t, format))
	})
}

func newRuleFlushCmd(rs *ruleSystem) *cobra.Command {
	var f dsrtypes.Family
	cmd := &cobra.Command{
		Use:   "flush [--family 4|6]",
		Short: "Delete every entry (of one family)",
		Long:  "Delete every entry of the table, or of one family. The map-mode rules stay.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rs.withTable(func(t maptable.Table) error {
				if err := t.Flush(f); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "flushed %v\n", f)
				return nil
			})
		},
	}
	cmd.Flags().Var(familyFlag(&f), "family", "only this family, 4 or 6 (default: both)")
	return cmd
}

func newRuleStatsCmd(rs *ruleSystem) *cobra.Command {
	return tableCmd(rs, "stats [-o table|json]", "Show the table's totals: rewritten, no entry, errors, entries", func(t maptable.Table, w io.Writer, format string) error {
		s, err := t.Stats()
		if err != nil {
			return err
		}
		return maptable.WriteStats(w, s, format)
	})
}

func newRuleModeCmd(rs *ruleSystem) *cobra.Command {
	var variant xtrule.VariantFlag
	cmd := outputCmd(&cobra.Command{Use: "mode [rule|direct] [-o table|json]", Short: "Show or set the map path: the --map iptables rule, or the module's direct hook",
		Long: `Show how packets reach the table ("mode: rule", "mode: direct (hook: IPv4)"), or set it: direct
turns the module's hooks on, then deletes l3dsr's --map rules; rule adds the rules first. No gap.`},
		func(cmd *cobra.Command, format string) error {
			m, err := maptable.ModeArg(cmd.Flags().Args())
			v, verr := variant.Variant()
			if err = cmp.Or(err, verr); err != nil {
				return &usageError{err}
			}
			return rs.withTable(func(t maptable.Table) error {
				return maptable.ShowMode(cmd.Context(), t, rs.newRules(v), m, cmd.OutOrStdout(), cmd.ErrOrStderr(), format)
			})
		})
	cmd.Args = cobra.MaximumNArgs(1)
	cmd.Flags().Var(&variant, "iptables", "iptables variant: default, legacy or nft (default $"+xtrule.VariantEnv+", else the system's)")
	return cmd
}
