package main

import (
	"context"
	"errors"
	"io"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/spf13/cobra"
)

func newRuleReplaceCmd(rs *ruleSystem) *cobra.Command {
	var file string
	var variant xtrule.VariantFlag
	var backend dsrtypes.Backend
	cmd := &cobra.Command{
		Use:   "replace -f FILE|-",
		Short: "Replace the whole table (both families) with the entries of a JSON file",
		Long: `Replace the whole table, both families, atomically with the entries of FILE
(- reads standard input): traffic sees the old table or the new one, never a
mix. An entry in both tables keeps its counters.

FILE is a JSON array in the format 'l3dsr rule list -o json' prints, so

  l3dsr rule list -o json > table.json
  l3dsr rule replace -f table.json

gives the table back. Each entry has "family" ("ipv4" or "ipv6"), "dscp" (0-63,
or "any" with a "local"), "local" ("any" or an address of the family), "vip", and
optionally "set_dscp" (0-63); "packets" and "bytes" are ignored. [] empties it.

The whole file is checked first: a bad entry is reported with its index (0 is
the first) and line, and nothing is changed. Then the one map-mode rule is
made sure to be in raw PREROUTING for every family the file has entries of
(as 'rule add' does; --backend bpf as there), and the table is replaced.`,
		Example: `  l3dsr rule replace -f /etc/l3dsr/table.json
  generate-table | l3dsr rule replace -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("file") {
				return usageErrorf("-f is missing: give the JSON file of the new table (- for standard input), e.g. as 'l3dsr rule list -o json' writes it")
			}
			entries, err := rs.readTable(file)
			if err != nil {
				return err
			}
			v, err := variant.Variant()
			if err != nil {
				return &usageError{err}
			}
			if err := rs.ensure(cmd.OutOrStdout(), backend); err != nil {
				return err
			}
			return rs.replace(cmd.Context(), cmd.OutOrStdout(), entries, v)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "", "the JSON file of the new table, - for standard input")
	fl.Var(&backend, "backend", backendUsage)
	fl.Var(&variant, "iptables", "iptables variant: default, legacy or nft (default $"+xtrule.VariantEnv+", else the system's)")
	return cmd
}

// readTable reads the table in the file -f names. A file that cannot be
// read or is no table is a usage error: nothing has been done yet, and the
// command line named it.
func (rs *ruleSystem) readTable(file string) ([]maptable.Entry, error) {
	entries, err := maptable.ReadFile(file, rs.stdin)
	var fe *maptable.FileError
	if errors.As(err, &fe) {
		return nil, &usageError{fe}
	}
	return entries, err
}

func (rs *ruleSystem) replace(ctx context.Context, out io.Writer, entries []maptable.Entry, v xtrule.Variant) error {
	t, err := rs.dialTable()
	if err != nil {
		return hostError(err)
	}
	defer t.Close()
	appended, err := maptable.ReplaceWithRules(ctx, t, rs.newRules(v), entries)
	if err != nil {
		return err
	}
	maptable.WriteReplaced(out, v, appended, entries)
	return nil
}
