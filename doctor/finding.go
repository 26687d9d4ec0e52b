package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/l3dsr/l3dsr/internal/jsonout"
)

// Level is how much a finding matters.
type Level string

const (
	// problem: DSR fails for some or all clients.
	problem Level = "problem"
	// warning: DSR works, at a cost (CPU, a failover) worth fixing.
	warning Level = "warning"
	// info: worth knowing; never the exit status.
	info Level = "info"
)

// Finding is one thing that breaks (or slows) DSR, with its fix.
type Finding struct {
	Level Level `json:"level"`
	// Check names the check (docs/doctor.md has one section each).
	Check string `json:"check"`
	What  string `json:"what"`
	Why   string `json:"why"`
	// Fix is a shell command that fixes it.
	Fix string `json:"fix"`
}

// Report is what Check found.
type Report struct {
	// Roles are "real server" and "director", as the config file or the
	// running state gives them.
	Roles []string `json:"roles"`
	// Source is the config file the expectations came from, or "running
	// state" without one.
	Source string `json:"source"`
	// Backend is what serves the real server's table: "xt_DADDR" (the
	// module), "bpf" (the tc-BPF program), or "" (no table in use, or
	// nothing serves it: a finding says so).
	Backend  string    `json:"backend,omitempty"`
	Findings []Finding `json:"findings"`
}

// Err is the error of a report with problems or warnings: the exit status
// 1 after the report is written.
func (r Report) Err() error {
	n := 0
	for _, f := range r.Findings {
		if f.Level != info {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d finding(s) (listed above, each with the command that fixes it)", n)
	}
	return nil
}

// WriteReport writes r as a table (format "table") or as JSON ("json").
func WriteReport(w io.Writer, r Report, format string) error {
	if format == "json" {
		return jsonout.Write(w, r)
	}
	var b strings.Builder
	if len(r.Roles) == 0 {
		fmt.Fprintf(&b, "nothing to check: no role found in the %s (no config file, no IPVS service, no VIP set up by l3dsr, no DADDR rule)\n", r.Source)
	} else {
		fmt.Fprintf(&b, "checked as %s (from %s)\n", strings.Join(r.Roles, " and "), r.Source)
	}
	if r.Backend != "" {
		fmt.Fprintf(&b, "table backend: %s\n", r.Backend)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%-7s [%s] %s\n", f.Level, f.Check, f.What)
		fmt.Fprintf(&b, "        why: %s\n", f.Why)
		fmt.Fprintf(&b, "        fix: %s\n", f.Fix)
	}
	if r.Err() == nil && len(r.Roles) > 0 {
		b.WriteString("\nno problem found\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
