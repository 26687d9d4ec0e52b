package dsrtypes

import (
	"errors"
	"strconv"
	"strings"
)

// DSCP is a Differentiated Services code point: the six upper bits of IPv4's
// TOS and IPv6's traffic class. In L3 DSR a code stands for a VIP.
type DSCP uint8

// MaxDSCP is the largest code the six bits hold (L3DSR_DSCP_MAX).
const MaxDSCP DSCP = 63

// ParseDSCP reads a code as iptables' --dscp does: decimal, or hex with 0x.
// A leading 0, which iptables would read as octal, is refused as ambiguous.
func ParseDSCP(s string) (DSCP, error) {
	t := strings.TrimSpace(s)
	var v uint64
	var err error
	switch {
	case t == "":
		return 0, invalidf("DSCP is empty: give the code 0-%d (decimal or hex, e.g. 10 or 0x0a)", MaxDSCP)
	case len(t) >= 2 && (t[:2] == "0x" || t[:2] == "0X"):
		v, err = strconv.ParseUint(t[2:], 16, 64)
	case len(t) > 1 && t[0] == '0':
		return 0, invalidf("DSCP %q is ambiguous (iptables reads a leading 0 as octal): write it in decimal without the 0, or in hex (0x..)", s)
	default:
		v, err = strconv.ParseUint(t, 10, 64)
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, invalidf("DSCP %q is not a number: give the code 0-%d in decimal or hex (e.g. 10 or 0x0a)", s, MaxDSCP)
	}
	if err != nil || v > uint64(MaxDSCP) {
		if t != strconv.FormatUint(v, 10) && err == nil {
			return 0, invalidf("DSCP %s (%d) is out of range: use 0-%d", t, v, MaxDSCP)
		}
		return 0, invalidf("DSCP %s is out of range: use 0-%d", t, MaxDSCP)
	}
	return DSCP(v), nil
}

// Check refuses a code above MaxDSCP.
func (d DSCP) Check() error {
	if d > MaxDSCP {
		return invalidf("DSCP %d is out of range: use 0-%d", uint8(d), MaxDSCP)
	}
	return nil
}

func (d DSCP) String() string { return strconv.Itoa(int(d)) }

// Set and Type make *DSCP a pflag.Value.
func (d *DSCP) Set(s string) error { return set(d, ParseDSCP, s) }

// Type names the value in flag help.
func (*DSCP) Type() string { return "dscp" }
