package dsrtypes

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The pflag.Value types: a flag set refuses bad input at parse time.
var (
	_ pflag.Value = new(DSCP)
	_ pflag.Value = new(Family)
	_ pflag.Value = new(Mode)
	_ pflag.Value = new(Proto)
	_ pflag.Value = new(Addr)
)

func TestParseDSCP(t *testing.T) {
	for in, want := range map[string]DSCP{"0": 0, "10": 10, "63": 63, "0x0a": 10, "0X3F": 63, " 7 ": 7} {
		got, err := ParseDSCP(in)
		if err != nil || got != want {
			t.Errorf("ParseDSCP(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":                     "DSCP is empty: give the code 0-63",
		"010":                  `DSCP "010" is ambiguous`,
		"x":                    `DSCP "x" is not a number`,
		"64":                   "DSCP 64 is out of range: use 0-63",
		"0x40":                 "DSCP 0x40 (64) is out of range: use 0-63",
		"99999999999999999999": "DSCP 99999999999999999999 is out of range",
		"-1":                   `DSCP "-1" is not a number`,
	} {
		_, err := ParseDSCP(in)
		if err == nil || !strings.Contains(err.Error(), msg) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDSCP(%q) = %v; want an ErrInvalid containing %q", in, err, msg)
		}
	}
	if err := DSCP(64).Check(); err == nil {
		t.Error("DSCP(64).Check() passed")
	}
}

func TestParseFamilyModeProto(t *testing.T) {
	for in, want := range map[string]Family{"4": IPv4, "inet6": IPv6, "IPv4": IPv4, "6": IPv6} {
		if got, err := ParseFamily(in); err != nil || got != want {
			t.Errorf("ParseFamily(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFamily("5"); err == nil || err.Error() != `family "5" is unknown: use 4 or 6` {
		t.Errorf("ParseFamily(5) = %v", err)
	}
	if FamilyOf(netip.MustParseAddr("2001:db8::1")) != IPv6 || FamilyOf(netip.Addr{}) != AnyFamily || IPv4.Name() != "ipv4" {
		t.Error("FamilyOf or Name is wrong")
	}
	for in, want := range map[string]Mode{"": ModeDSCP, "DSCP": ModeDSCP, "ipip": ModeIPIP, "dr": ModeDR, " DR ": ModeDR, "NAT": ModeNAT} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	for in, msg := range map[string]string{
		"tun":   `mode "tun": IPVS's tunnel mode is ipip here; use dscp, addr or ipip (L3 DSR), or dr (L2 DSR)`,
		"route": `mode "route": IPVS's direct routing is dr here; use dscp, addr or ipip (L3 DSR), or dr (L2 DSR)`,
		"gre":   `mode "gre": use dscp, addr or ipip (L3 DSR), or dr (L2 DSR)`,
		"masq":  `mode "masq": IPVS's masquerading is dscp here (with l3dsr's DSCP mark) or nat (plain LVS-NAT); use dscp, addr or ipip (L3 DSR), or dr (L2 DSR)`,
	} {
		if _, err := ParseMode(in); err == nil || err.Error() != msg {
			t.Errorf("ParseMode(%q) = %v; want %q", in, err, msg)
		}
	}
	if p, err := ParseProto("SCTP"); err != nil || p != SCTP || p.String() != "sctp" {
		t.Errorf("ParseProto(SCTP) = %v, %v", p, err)
	}
	if _, err := ParseProto("icmp"); err == nil || !strings.Contains(err.Error(), "use tcp, udp or sctp") {
		t.Errorf("ParseProto(icmp) = %v", err)
	}
}

func TestParseAddr(t *testing.T) {
	if a, err := ParseAddr(" 10.0.0.1 "); err != nil || a != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("ParseAddr = %v, %v", a, err)
	}
	for in, msg := range map[string]string{
		"":            "the address is empty",
		"10.0.0.1/32": `"10.0.0.1/32" is a prefix: give the address alone, e.g. 10.0.0.1`,
		"vip":         `"vip" is not an IP address`,
	} {
		if _, err := ParseAddr(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseAddr(%q) = %v; want %q", in, err, msg)
		}
	}
	if ap, err := ParseAddrPort("[2001:db8::1]:443"); err != nil || ap.Port() != 443 {
		t.Errorf("ParseAddrPort = %v, %v", ap, err)
	}
	for in, msg := range map[string]string{
		"10.0.0.1":    `"10.0.0.1" has no port: give VIP:PORT, e.g. 10.0.0.1:80`,
		"2001:db8::1": `e.g. [2001:db8::1]:80`,
		"10.0.0.1:0":  "has port 0",
		"x:80":        "is not VIP:PORT",
	} {
		if _, err := ParseAddrPort(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseAddrPort(%q) = %v; want %q", in, err, msg)
		}
	}
}

// A flag of these types is refused when it is parsed, with this package's
// message inside pflag's.
func TestFlags(t *testing.T) {
	var d DSCP
	var a Addr
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Var(&d, "dscp", "")
	fs.Var(&a, "vip", "")
	if err := fs.Parse([]string{"--dscp", "0x0a", "--vip", "2001:db8::1"}); err != nil || d != 10 || a.String() != "2001:db8::1" {
		t.Fatalf("parse = %v, %d, %v", err, d, a)
	}
	err := fs.Parse([]string{"--dscp", "64"})
	if err == nil || !strings.Contains(err.Error(), `"--dscp"`) || !strings.Contains(err.Error(), "out of range: use 0-63") {
		t.Errorf("--dscp 64: %v", err)
	}
}
