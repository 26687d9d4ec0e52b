package xtrule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

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
