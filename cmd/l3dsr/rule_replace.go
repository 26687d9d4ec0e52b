package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/spf13/cobra"
)

// replaceTable is what 'rule replace' uses of maptable.Table.
type replaceTable interface {
	Replace(entries []maptable.Entry) error
	Close() error
}

// dialReplaceTable opens the table for 'rule replace'. Tests replace it.
var dialReplaceTable = func() (replaceTable, error) {
	if err := needNetAdmin(); err != nil {
		return nil, err
	}
	return maptable.Dial()
}

// stdin is what 'rule replace -f -' reads. Tests replace it.
var stdin io.Reader = os.Stdin

func newRuleReplaceCmd() *cobra.Command {
	var file, variant string
	cmd := &cobra.Command{
		Use:   "replace -f FILE|-",
		Short: "Replace the whole table (both families) with the entries of a JSON file",
		Long: `Replace the whole table, both families, atomically with the entries of FILE
(- reads standard input): traffic sees the old table or the new one, never a
mix. An entry in both tables keeps its counters.

FILE is a JSON array in the format 'l3dsr rule list -o json' prints, so

  l3dsr rule list -o json > table.json
  l3dsr rule replace -f table.json

gives the table back. Each entry has "family" ("ipv4" or "ipv6"), "dscp"
(0-63), "local" ("any" or a local address of the family) and "vip";
"packets" and "bytes" are ignored. An empty array empties the table.

The whole file is checked first: a bad entry is reported with its index (0 is
the first) and line, and nothing is changed. Then the one map-mode rule is
made sure to be in raw PREROUTING for every family the file has entries of
(as 'rule add' does), and the table is replaced.`,
		Example: `  l3dsr rule replace -f /etc/l3dsr/table.json
  generate-table | l3dsr rule replace -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("file") {
				return usageErrorf("-f is missing: give the JSON file of the new table (- for standard input), e.g. as 'l3dsr rule list -o json' writes it")
			}
			name, data, err := readTableFile(file)
			if err != nil {
				return err
			}
			entries, err := parseTable(name, data)
			if err != nil {
				return err
			}
			v, err := iptablesVariant(fl.Changed("iptables"), variant)
			if err != nil {
				return err
			}
			return ruleReplace(cmd.Context(), cmd.OutOrStdout(), entries, v)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "", "the JSON file of the new table, - for standard input")
	fl.StringVar(&variant, "iptables", "", "iptables variant: default, legacy or nft (default $"+iptablesEnv+", else the system's)")
	return cmd
}

// readTableFile reads the file -f names. A file that cannot be read is a
// usage error: nothing has been done yet, and the command line named it.
func readTableFile(file string) (name string, data []byte, err error) {
	if file == "-" {
		data, err = io.ReadAll(stdin)
		if err != nil {
			return "standard input", nil, fmt.Errorf("reading the table from standard input: %w", err)
		}
		return "standard input", data, nil
	}
	if strings.TrimSpace(file) == "" {
		return file, nil, usageErrorf("-f is empty: give the JSON file of the new table, or - for standard input")
	}
	data, err = os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return file, nil, usageErrorf("-f %s: cannot read it (%v): give the JSON file of the new table, or - for standard input", file, err)
	}
	return file, data, nil
}

// tableEntryJSON is one entry of the file. Fields are raw so that each bad
// value can be named as it was written.
type tableEntryJSON struct {
	Family  json.RawMessage `json:"family"`
	DSCP    json.RawMessage `json:"dscp"`
	Local   json.RawMessage `json:"local"`
	VIP     json.RawMessage `json:"vip"`
	Packets json.RawMessage `json:"packets"`
	Bytes   json.RawMessage `json:"bytes"`
}

// fastEntryJSON is an entry as a good file has it.
type fastEntryJSON struct {
	Family  *string      `json:"family"`
	DSCP    *json.Number `json:"dscp"`
	Local   *string      `json:"local"`
	VIP     *string      `json:"vip"`
	Packets *json.Number `json:"packets"`
	Bytes   *json.Number `json:"bytes"`
}

// parseTable parses and checks the whole file; every error is a usage error
// that names the entry (index and line), the bad value and the fix.
//
// A good file is decoded in one pass (a table of 65,536 entries is read on
// every replace); anything unexpected sends it through checkTable, which
// finds and describes the first problem.
func parseTable(name string, data []byte) ([]maptable.Entry, error) {
	var raw []fastEntryJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return checkTable(name, data)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return checkTable(name, data)
	}
	if len(raw) > maptable.MaxEntries {
		return nil, usageErrorf("%s: %d entries are more than a table holds (%d): split the services over more real servers", name, len(raw), maptable.MaxEntries)
	}
	entries := make([]maptable.Entry, 0, len(raw))
	seen := make(map[maptable.Key]struct{}, len(raw))
	for _, r := range raw {
		e, ok := fastEntry(r)
		if !ok {
			return checkTable(name, data)
		}
		if _, dup := seen[e.Key()]; dup {
			return checkTable(name, data)
		}
		seen[e.Key()] = struct{}{}
		entries = append(entries, e)
	}
	return entries, nil
}

// fastEntry converts an entry that is plainly good; ok is false for
// anything else (checkTable then says what is wrong).
func fastEntry(r fastEntryJSON) (e maptable.Entry, ok bool) {
	if r.Family == nil || r.DSCP == nil || r.VIP == nil {
		return e, false
	}
	switch *r.Family {
	case "ipv4":
		e.Family = dsrtypes.IPv4
	case "ipv6":
		e.Family = dsrtypes.IPv6
	default:
		return e, false
	}
	d, err := r.DSCP.Int64()
	if err != nil || d < 0 || d > int64(dsrtypes.MaxDSCP) {
		return e, false
	}
	e.DSCP = dsrtypes.DSCP(d)
	if e.VIP, err = netip.ParseAddr(*r.VIP); err != nil || dsrtypes.FamilyOf(e.VIP) != e.Family {
		return e, false
	}
	if r.Local != nil && *r.Local != "any" {
		if e.Local, err = netip.ParseAddr(*r.Local); err != nil || dsrtypes.FamilyOf(e.Local) != e.Family {
			return e, false
		}
	}
	for _, n := range []*json.Number{r.Packets, r.Bytes} {
		if n != nil {
			if _, err := n.Float64(); err != nil {
				return e, false
			}
		}
	}
	return e, e.Validate() == nil
}

// checkTable parses and checks the file entry by entry, to describe the
// first problem precisely.
func checkTable(name string, data []byte) ([]maptable.Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// lineAt counts lines incrementally: entries come in order, and a
	// count from the start for each would be quadratic in the file size.
	lastOff, lastLine := int64(0), 1
	lineAt := func(off int64) int {
		off = min(max(off, 0), int64(len(data)))
		if off < lastOff {
			lastOff, lastLine = 0, 1
		}
		lastLine += bytes.Count(data[lastOff:off], []byte("\n"))
		lastOff = off
		return lastLine
	}
	syntax := func(err error) error {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return usageErrorf("%s:%d: not valid JSON: %v: the file must be a JSON array as 'l3dsr rule list -o json' prints it", name, lineAt(se.Offset), se)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return usageErrorf("%s: the JSON ends early: the file must be a whole JSON array as 'l3dsr rule list -o json' prints it", name)
		case errors.As(err, &te):
			return usageErrorf("%s:%d: %v: each entry is an object like {\"family\": \"ipv4\", \"dscp\": 1, \"local\": \"any\", \"vip\": \"10.0.0.1\"}", name, lineAt(te.Offset), err)
		}
		return usageErrorf("%s: %v: the file must be a JSON array as 'l3dsr rule list -o json' prints it", name, err)
	}

	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, usageErrorf("%s is empty: give a JSON array of entries ([] for an empty table), as 'l3dsr rule list -o json' prints it", name)
		}
		return nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, usageErrorf("%s:%d: the file must be a JSON array of entries, [ ... ], as 'l3dsr rule list -o json' prints it; it starts with %s", name, lineAt(dec.InputOffset()), jsonTokenString(tok))
	}
	entries := []maptable.Entry{}
	seen := map[maptable.Key]int{}
	for i := 0; dec.More(); i++ {
		// InputOffset is at the end of the previous value: step over the
		// separator and blanks to the entry's first byte for its line.
		start := dec.InputOffset()
		for start < int64(len(data)) && strings.IndexByte(", \t\r\n", data[start]) >= 0 {
			start++
		}
		line := lineAt(start)
		var raw tableEntryJSON
		if err := dec.Decode(&raw); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field == "" {
				return nil, usageErrorf("%s:%d: entry %d is not an object: write it as {\"family\": \"ipv4\", \"dscp\": 1, \"local\": \"any\", \"vip\": \"10.0.0.1\"}", name, line, i)
			}
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, usageErrorf("%s:%d: entry %d: unknown field %s: the fields are family, dscp, local, vip (packets and bytes are ignored)", name, line, i, f)
			}
			return nil, syntax(err)
		}
		e, err := entryFromJSON(raw)
		if err != nil {
			return nil, usageErrorf("%s:%d: entry %d: %v", name, line, i, err)
		}
		k := e.Key()
		if j, dup := seen[k]; dup {
			return nil, usageErrorf("%s:%d: entry %d has the key of entry %d (%v): a key may map to one VIP only, keep one of them", name, line, i, j, k)
		}
		seen[k] = i
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, syntax(err)
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntax(err)
		}
		return nil, usageErrorf("%s:%d: %s after the array: the file must hold one JSON array only", name, lineAt(dec.InputOffset()), jsonTokenString(tok))
	}
	if len(entries) > maptable.MaxEntries {
		return nil, usageErrorf("%s: %d entries are more than a table holds (%d): split the services over more real servers", name, len(entries), maptable.MaxEntries)
	}
	return entries, nil
}

func jsonTokenString(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return string(t)
	case string:
		return fmt.Sprintf("%q", t)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// entryFromJSON checks one entry of the file.
func entryFromJSON(raw tableEntryJSON) (maptable.Entry, error) {
	var e maptable.Entry
	example := `e.g. "family": "ipv4"`

	// family
	if raw.Family == nil {
		return e, fmt.Errorf(`"family" is missing: give "ipv4" or "ipv6" (%s)`, example)
	}
	var fam string
	if json.Unmarshal(raw.Family, &fam) != nil {
		return e, fmt.Errorf(`"family" %s is not a string: give "ipv4" or "ipv6"`, raw.Family)
	}
	switch strings.ToLower(strings.TrimSpace(fam)) {
	case "ipv4", "4", "inet":
		e.Family = dsrtypes.IPv4
	case "ipv6", "6", "inet6":
		e.Family = dsrtypes.IPv6
	default:
		return e, fmt.Errorf(`"family" %q is unknown: give "ipv4" or "ipv6"`, fam)
	}

	// dscp: a number 0-63 (a string in decimal or hex, as --dscp takes it,
	// is accepted too).
	if raw.DSCP == nil {
		return e, fmt.Errorf(`"dscp" is missing: give the code 0-%d, e.g. "dscp": 10`, dsrtypes.MaxDSCP)
	}
	var num json.Number
	var str string
	switch {
	case json.Unmarshal(raw.DSCP, &num) == nil:
		f, err := num.Float64()
		if err != nil || f != math.Trunc(f) || f < 0 {
			return e, fmt.Errorf(`"dscp" %s is not a code: give a whole number 0-%d`, num, dsrtypes.MaxDSCP)
		}
		if f > float64(dsrtypes.MaxDSCP) {
			return e, fmt.Errorf(`"dscp" %s is out of range: use 0-%d`, num, dsrtypes.MaxDSCP)
		}
		e.DSCP = dsrtypes.DSCP(f)
	case json.Unmarshal(raw.DSCP, &str) == nil:
		d, err := parseDSCP(str)
		if err != nil {
			return e, fmt.Errorf(`"dscp": %v`, err)
		}
		e.DSCP = dsrtypes.DSCP(d)
	default:
		return e, fmt.Errorf(`"dscp" %s is not a number: give the code 0-%d, e.g. "dscp": 10`, raw.DSCP, dsrtypes.MaxDSCP)
	}

	// local: "any" (or left out) or an address.
	if raw.Local != nil && string(raw.Local) != "null" {
		var s string
		if json.Unmarshal(raw.Local, &s) != nil {
			return e, fmt.Errorf(`"local" %s is not a string: give "any" or a local address`, raw.Local)
		}
		if t := strings.TrimSpace(s); !strings.EqualFold(t, "any") {
			a, err := parseJSONAddr("local", t)
			if err != nil {
				return e, err
			}
			e.Local = a
		}
	}

	// vip
	if raw.VIP == nil {
		return e, fmt.Errorf(`"vip" is missing: give the address DSCP %d stands for, e.g. "vip": "10.0.0.1"`, e.DSCP)
	}
	var vs string
	if json.Unmarshal(raw.VIP, &vs) != nil {
		return e, fmt.Errorf(`"vip" %s is not a string: give an address, e.g. "vip": "10.0.0.1"`, raw.VIP)
	}
	a, err := parseJSONAddr("vip", strings.TrimSpace(vs))
	if err != nil {
		return e, err
	}
	e.VIP = a

	// packets and bytes are read-back counters: ignored, but they must be
	// numbers if present (a string there is a sign of a broken file).
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{{"packets", raw.Packets}, {"bytes", raw.Bytes}} {
		var n json.Number
		if c.v != nil && string(c.v) != "null" && json.Unmarshal(c.v, &n) != nil {
			return e, fmt.Errorf(`%q %s is not a number: it is a counter (ignored); give a number or leave it out`, c.name, c.v)
		}
	}

	if vf := dsrtypes.FamilyOf(e.VIP); vf != e.Family {
		return e, fmt.Errorf(`"vip" %s is %v but "family" is %q: make "family" %q or give an %v VIP`, e.VIP, vf, fam, familyName(vf), e.Family)
	}
	if e.Local.IsValid() {
		if lf := dsrtypes.FamilyOf(e.Local); lf != e.Family {
			return e, fmt.Errorf(`"local" %s is %v but "family" and "vip" %s are %v: use addresses of one family`, e.Local, lf, e.VIP, e.Family)
		}
	}
	if err := e.Validate(); err != nil {
		return e, err
	}
	return e, nil
}

func parseJSONAddr(field, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%q is empty: give an IPv4 or IPv6 address", field)
	}
	a, err := netip.ParseAddr(s)
	if err == nil {
		return a, nil
	}
	if p, perr := netip.ParsePrefix(s); perr == nil {
		return netip.Addr{}, fmt.Errorf("%q %q is a prefix: give the address alone, e.g. %q", field, s, p.Addr().String())
	}
	hint := `an IPv4 or IPv6 address`
	if field == "local" {
		hint = `"any" or a local IPv4 or IPv6 address`
	}
	return netip.Addr{}, fmt.Errorf("%q %q is not an IP address: give %s", field, s, hint)
}

func ruleReplace(ctx context.Context, out io.Writer, entries []maptable.Entry, v xtrule.Variant) error {
	var n4, n6 int
	for _, e := range entries {
		if e.Family == dsrtypes.IPv6 {
			n6++
		} else {
			n4++
		}
	}
	t, err := dialReplaceTable()
	if err != nil {
		return hostError(err)
	}
	defer t.Close()

	rules := newRules(v)
	var added []dsrtypes.Family
	rollback := func(err error) error {
		var failed []string
		for _, f := range added {
			if derr := rules.Delete(ctx, xtFamily(f)); derr != nil {
				failed = append(failed, derr.Error())
			}
		}
		switch {
		case len(added) == 0:
			return err
		case len(failed) > 0:
			return fmt.Errorf("%w (and removing the map-mode rules appended for it failed: %s)", err, strings.Join(failed, "; "))
		}
		return fmt.Errorf("%w (the map-mode rules appended for it were removed again)", err)
	}
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		if (f == dsrtypes.IPv4 && n4 == 0) || (f == dsrtypes.IPv6 && n6 == 0) {
			continue
		}
		ok, err := rules.Ensure(ctx, xtFamily(f))
		if err != nil {
			return rollback(fmt.Errorf("adding the map-mode rule for %v: %w", f, err))
		}
		if ok {
			added = append(added, f)
		}
	}
	if err := t.Replace(entries); err != nil {
		return rollback(err)
	}
	for _, f := range added {
		fmt.Fprintf(out, "appended the map-mode rule for %v: %s -t raw -A %s\n", f, (&xtrule.Rules{Variant: v}).Binary(xtFamily(f)), strings.Join(xtrule.MapRule, " "))
	}
	fmt.Fprintf(out, "replaced the table: %d entries (IPv4 %d, IPv6 %d)\n", len(entries), n4, n6)
	return nil
}
