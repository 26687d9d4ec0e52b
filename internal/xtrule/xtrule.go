// Package xtrule keeps the one xt_DADDR map-mode rule in place:
//
//	iptables  -t raw -A PREROUTING -j DADDR --map
//	ip6tables -t raw -A PREROUTING -j DADDR --map
//
// It runs the iptables binaries (which need the libxt_DADDR.so extension)
// and checks before it appends, so the rule exists once, however often it
// is ensured. Limited to ingress interfaces, it is one rule per interface,
// "-i IFACE -j DADDR --map" (ingress.go). The package never prints.
//
// Whether the rule exists is read from `iptables -t raw -S PREROUTING`, not
// asked with -C: ip6tables-legacy 1.8.9's -C (and -D, which shares its rule
// comparison) answers for a DADDR rule with other target data: with only
// `-j DADDR --set-daddr ADDR` in the chain, `-C PREROUTING -j DADDR --map`
// exits 0 (seen on Debian 12; iptables-legacy answers right). The saved
// form of a rule is what its extension prints, so an exact line is an exact
// rule, and Delete deletes by rule number for the same reason.
package xtrule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// Family selects iptables (IPv4) or ip6tables (IPv6); it is the one
// address family type, dsrtypes.Family.
type Family = dsrtypes.Family

// The families iptables serves.
const (
	IPv4 = dsrtypes.IPv4
	IPv6 = dsrtypes.IPv6
)

// Variant selects which iptables binaries run.
type Variant string

const (
	// Default runs iptables / ip6tables: whatever the system's default
	// (alternatives) is.
	Default Variant = ""
	// Legacy runs iptables-legacy / ip6tables-legacy.
	Legacy Variant = "legacy"
	// NFT runs iptables-nft / ip6tables-nft.
	NFT Variant = "nft"
)

// ParseVariant parses "", "default", "legacy" or "nft".
func ParseVariant(s string) (Variant, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default", "auto":
		return Default, nil
	case "legacy":
		return Legacy, nil
	case "nft":
		return NFT, nil
	}
	return Default, fmt.Errorf("iptables variant %q is unknown: use default, legacy or nft", s)
}

// result is what running a command gave.
type result struct {
	// ExitCode is the command's exit status; meaningful when Err is nil.
	ExitCode int
	// Stdout is the command's output.
	Stdout string
	// Stderr is the command's error output.
	Stderr string
	// Err is set when the command could not be run at all.
	Err error
}

// A runFunc runs one command. Tests replace execCmd with a fake.
type runFunc func(ctx context.Context, name string, args ...string) result

// execCmd runs the command with os/exec.
func execCmd(ctx context.Context, name string, args ...string) result {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return result{ExitCode: ee.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// Rules manages the map-mode rule with one variant of iptables.
type Rules struct {
	Variant Variant
	// Ingress, when set, limits the rule to packets that come in on these
	// interfaces: one rule per interface (ingressRule) instead of MapRule.
	Ingress []string
	// runCmd runs the binaries; nil means execCmd.
	runCmd runFunc
}

// Binary is the iptables binary for family f.
func (r *Rules) Binary(f Family) string {
	name := "iptables"
	if f == IPv6 {
		name = "ip6tables"
	}
	if r.Variant != Default {
		name += "-" + string(r.Variant)
	}
	return name
}

// MapRule is the rule, as iptables arguments after the command option.
var MapRule = []string{"PREROUTING", "-j", "DADDR", "--map"}

// savedRule is the rule as `iptables -S` prints it.
var savedRule = "-A " + strings.Join(MapRule, " ")

func (r *Rules) run(ctx context.Context, f Family, args ...string) (result, string) {
	run := r.runCmd
	if run == nil {
		run = execCmd
	}
	bin := r.Binary(f)
	// -w: wait for the xtables lock rather than fail beside another tool.
	args = append([]string{"-w", "-t", "raw"}, args...)
	return run(ctx, bin, args...), bin + " " + strings.Join(args, " ")
}

func checkFamily(f Family) error {
	if f != IPv4 && f != IPv6 {
		return fmt.Errorf("address family %d is not supported: use 4 or 6", int(f))
	}
	return nil
}

func (r *Rules) startError(f Family, cmdline string, err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("running %s: %s is not installed: install the iptables package (or choose another variant: default, legacy, nft)", cmdline, r.Binary(f))
	}
	return fmt.Errorf("running %s: %w", cmdline, err)
}

// commandError describes a failed iptables run, with a hint for the
// failures an l3dsr user meets.
func commandError(cmdline string, res result) error {
	msg := strings.TrimSpace(res.Stderr)
	if i := strings.Index(msg, "\nTry `"); i >= 0 {
		msg = msg[:i] // iptables' generic "Try `iptables -h'" line
	}
	if msg == "" {
		msg = "no error output"
	}
	var hint string
	switch {
	case strings.Contains(msg, `unknown option "--map"`), strings.Contains(msg, "Couldn't load target `DADDR'"):
		hint = ": the iptables extension libxt_DADDR.so with map mode is missing or too old: install the l3dsr package, or set XTABLES_LIBDIR to the directory that holds it"
	case strings.Contains(msg, "No chain/target/match by that name"), strings.Contains(msg, "RULE_APPEND failed"),
		strings.Contains(msg, "Extension DADDR revision 1 not supported"):
		hint = ": the kernel has no DADDR target with map mode: load the l3dsr module ('modprobe xt_DADDR')"
	case strings.Contains(msg, "Permission denied"):
		hint = ": run as root"
	}
	return fmt.Errorf("%s: exit status %d: %s%s", cmdline, res.ExitCode, msg, hint)
}
