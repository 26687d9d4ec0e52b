package maptable

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/jsonout"
)

// PathInfo is the path as `rule mode -o json` and `realserver show -o
// json` give it: {"mode": "direct", "hooks": ["ipv4"], "path": "direct
// hook (IPv4)"}.
type PathInfo struct {
	Mode  Mode     `json:"mode"`
	Hooks []string `json:"hooks"`
	Path  string   `json:"path"`
}

// hookNames are the families of h as the JSON names them: ipv4, ipv6.
func (h Hooks) names() []string {
	out := []string{}
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		if h.Has(f) {
			out = append(out, f.Name())
		}
	}
	return out
}

// writeMode writes the namespace's path: "mode: direct (hook: IPv4, IPv6)",
// "mode: rule" or "mode: bpf", or modeJSON with format "json".
func writeMode(w io.Writer, s Stats, format string) error {
	if format == "json" {
		return jsonout.Write(w, s.PathInfo())
	}
	if s.Mode == ModeDirect {
		_, err := fmt.Fprintf(w, "mode: direct (hook: %s)\n", s.Hooks)
		return err
	}
	_, err := fmt.Fprintf(w, "mode: %s\n", s.PathInfo().Mode)
	return err
}

func (s Stats) PathInfo() PathInfo {
	m := s.Mode
	if m == "" {
		m = ModeRule // a table that does not say is read by the rule
	}
	return PathInfo{Mode: m, Hooks: s.Hooks.names(), Path: s.Path()}
}

// Hooked tells whether f's direct hook is registered.
func (p PathInfo) Hooked(f dsrtypes.Family) bool { return slices.Contains(p.Hooks, f.Name()) }

// ShowMode is `rule mode [M]`: it switches t's namespace to m unless m is
// empty (SwitchMode), then writes the mode to w as format says. The
// changes go to w before it, or to errw with JSON, which must stay whole.
func ShowMode(ctx context.Context, t Table, rules ModeRules, m Mode, w, errw io.Writer, format string) error {
	changes := w
	if format == "json" {
		changes = errw
	}
	if mt, ok := t.(ModeTable); !ok && m != "" {
		return errNoModes
	} else if m != "" {
		done, err := SwitchMode(ctx, mt, rules, m)
		for _, c := range done {
			fmt.Fprintln(changes, c)
		}
		if err != nil {
			return err
		}
	}
	s, err := t.Stats()
	if err != nil {
		return err
	}
	return writeMode(w, s, format)
}

// writePath writes the first line of `rule list` and `rule stats`:
// "path: direct hook (IPv4, IPv6)", "path: iptables rule (-t raw
// PREROUTING -j DADDR --map)" or "path: tc-BPF program".
func writePath(w io.Writer, s Stats) {
	fmt.Fprintf(w, "path: %s\n", s.Path())
}

// WriteList is `rule list`: the entries of t as WriteEntries writes them,
// after the path line in a table (the JSON stays the array 'rule replace
// -f' reads).
func WriteList(w io.Writer, t Table, format string) error {
	entries, err := t.List()
	if err != nil {
		return fmt.Errorf("listing the DSCP map: %w", err)
	}
	if format != "json" {
		s, err := t.Stats()
		if err != nil {
			return fmt.Errorf("listing the DSCP map: %w", err)
		}
		writePath(w, s)
	}
	return WriteEntries(w, entries, format)
}
