package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/spf13/pflag"
)

// Flag parsing and output helpers the commands share.

// iptablesEnv chooses the iptables variant when --iptables is not given.
const iptablesEnv = "L3DSR_IPTABLES"

// flagValue is a dsrtypes value as a flag. prefix starts the value's own
// parse error so that it names the flag ("--vip" + ` "x" is not an IP
// address`); String is what was given, for messages and so that help shows
// no default for an unset flag.
type flagValue struct {
	v      pflag.Value
	prefix string
	text   string
}

func (f *flagValue) Set(s string) error {
	if err := f.v.Set(s); err != nil {
		return fmt.Errorf("%s%w", f.prefix, err)
	}
	f.text = s
	return nil
}

func (f *flagValue) String() string { return f.text }
func (f *flagValue) Type() string   { return f.v.Type() }

func dscpFlag(d *dsrtypes.DSCP) pflag.Value              { return &flagValue{v: d} }
func addrFlag(flag string, a *dsrtypes.Addr) pflag.Value { return &flagValue{v: a, prefix: flag + " "} }
func familyFlag(f *dsrtypes.Family) pflag.Value          { return &flagValue{v: f, prefix: "--"} }

// parseDSCP parses a DSCP code as iptables' --dscp does (dsrtypes.ParseDSCP).
func parseDSCP(s string) (uint8, error) {
	if strings.TrimSpace(s) == "" {
		return 0, usageErrorf("--dscp is empty: give the code 0-%d (decimal or hex, e.g. 10 or 0x0a)", dsrtypes.MaxDSCP)
	}
	d, err := dsrtypes.ParseDSCP(s)
	if err != nil {
		return 0, &usageError{err}
	}
	return uint8(d), nil
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

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageErrorf("output format %q is unknown: use -o table or -o json", o)
	}
	return nil
}
