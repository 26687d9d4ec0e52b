// Package xtrule keeps the one xt_DADDR map-mode rule in place:
//
//	iptables  -t raw -A PREROUTING -j DADDR --map
//	ip6tables -t raw -A PREROUTING -j DADDR --map
//
// It runs the iptables binaries (which need the libxt_DADDR.so extension)
// and checks before it appends, so the rule exists once, however often it
// is ensured. The package never prints.
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
	"strconv"
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

// positions lists where the map-mode rule is in raw PREROUTING: the 1-based
// rule numbers (as -D and -I count) of every rule that saves exactly as
// "-A PREROUTING -j DADDR --map".
func (r *Rules) positions(ctx context.Context, f Family) ([]int, error) {
	if err := checkFamily(f); err != nil {
		return nil, err
	}
	res, cmdline := r.run(ctx, f, "-S", MapRule[0])
	switch {
	case res.Err != nil:
		return nil, r.startError(f, cmdline, res.Err)
	case res.ExitCode != 0:
		return nil, commandError(cmdline, res)
	}
	var pos []int
	n := 0
	for _, line := range strings.Split(res.Stdout, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-A "+MapRule[0]+" ") {
			continue // "-P PREROUTING ACCEPT", "-N ..." and the like
		}
		n++
		if line == savedRule {
			pos = append(pos, n)
		}
	}
	return pos, nil
}

// Count reports how many map-mode rules raw PREROUTING holds (Ensure keeps
// it at one).
func (r *Rules) Count(ctx context.Context, f Family) (int, error) {
	pos, err := r.positions(ctx, f)
	return len(pos), err
}

// Exists reports whether the map-mode rule is in raw PREROUTING.
func (r *Rules) Exists(ctx context.Context, f Family) (bool, error) {
	n, err := r.Count(ctx, f)
	return n > 0, err
}

// Ensure appends the map-mode rule for family f unless it is there already.
// It reports whether it appended it.
func (r *Rules) Ensure(ctx context.Context, f Family) (added bool, err error) {
	ok, err := r.Exists(ctx, f)
	if err != nil || ok {
		return false, err
	}
	res, cmdline := r.run(ctx, f, append([]string{"-A"}, MapRule...)...)
	if res.Err != nil {
		return false, r.startError(f, cmdline, res.Err)
	}
	if res.ExitCode != 0 {
		return false, commandError(cmdline, res)
	}
	return true, nil
}

// Delete removes the map-mode rule for family f (the last one, should there
// be several); a missing rule is not an error. It deletes by rule number,
// found in the -S listing, because a delete by rule specification compares
// rules as -C does.
func (r *Rules) Delete(ctx context.Context, f Family) error {
	pos, err := r.positions(ctx, f)
	if err != nil || len(pos) == 0 {
		return err
	}
	res, cmdline := r.run(ctx, f, "-D", MapRule[0], strconv.Itoa(pos[len(pos)-1]))
	if res.Err != nil {
		return r.startError(f, cmdline, res.Err)
	}
	if res.ExitCode != 0 {
		return commandError(cmdline, res)
	}
	return nil
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
