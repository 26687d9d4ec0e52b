package dsrtypes

import (
	"strconv"
	"strings"
)

// Proto is a transport protocol that has ports, by its IP protocol number.
type Proto uint8

// The protocols a service (IPVS) and a DSCP mark (nftables) can match.
const (
	TCP  Proto = 6
	UDP  Proto = 17
	SCTP Proto = 132
)

// ParseProto accepts "tcp", "udp" and "sctp" (any case).
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "sctp":
		return SCTP, nil
	}
	return 0, invalidf("protocol %q is not supported: use tcp, udp or sctp", s)
}

// String returns "tcp", "udp" or "sctp", and for another number a name for
// error messages.
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	case 1:
		return "icmp"
	case 58:
		return "ipv6-icmp"
	}
	return "protocol " + strconv.Itoa(int(p))
}

// Valid says whether p is one of TCP, UDP and SCTP.
func (p Proto) Valid() bool { return p == TCP || p == UDP || p == SCTP }

// Set and Type make *Proto a pflag.Value.
func (p *Proto) Set(s string) error { return set(p, ParseProto, s) }

// Type names the value in flag help.
func (*Proto) Type() string { return "tcp|udp|sctp" }
