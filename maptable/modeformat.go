package maptable

import (
	"context"
	"fmt"
	"io"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/jsonout"
)

// modeJSON is `rule mode -o json`: {"mode": "direct", "hooks": ["ipv4"],
// "path": "direct hook (IPv4)"}.
type modeJSON struct {
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

// WriteMode writes the namespace's path: "mode: direct (hook: IPv4, IPv6)",
// "mode: rule" or "mode: bpf", or modeJSON with format "json".
func WriteMode(w io.Writer, s Stats, format string) error {
	if format == "json" {
		return jsonout.Write(w, s.modeJSON())
	}
	if s.Mode == ModeDirect {
		_, err := fmt.Fprintf(w, "mode: direct (hook: %s)\n", s.Hooks)
		return err
	}
	_, err := fmt.Fprintf(w, "mode: %s\n", s.modeJSON().Mode)
	return err
}

func (s Stats) modeJSON() modeJSON {
	m := s.Mode
	if m == "" {
		m = ModeRule // a table that does not say is read by the rule
	}
	return modeJSON{Mode: m, Hooks: s.Hooks.names(), Path: s.Path()}
}

// ShowMode is `rule mode [M]`: it switches t's namespace to m unless m is
// empty (SwitchMode), then writes the mode to w as format says. The
// changes go to w before it, or to errw with JSON, which must stay whole.
func ShowMode(ctx context.Context, t Table, rules ModeRules, m Mode, w, errw io.Writer, format string) error {
	changes := w
	if format == "json" {
		changes = errw
	}
	if m != "" {
		done, err := SwitchMode(ctx, t, rules, m)
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
	return WriteMode(w, s, format)
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
