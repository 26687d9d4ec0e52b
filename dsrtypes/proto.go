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

// protoNames are the names String gives; those of the valid protocols
// (TCP, UDP, SCTP) are the ones ParseProto accepts.
var protoNames = map[Proto]string{TCP: "tcp", UDP: "udp", SCTP: "sctp", 1: "icmp", 58: "ipv6-icmp"}

// ParseProto accepts "tcp", "udp" and "sctp" (any case).
func ParseProto(s string) (Proto, error) {
	word := strings.ToLower(strings.TrimSpace(s))
	for p, name := range protoNames {
		if p.Valid() && name == word {
			return p, nil
		}
	}
	return 0, invalidf("protocol %q is not supported: use tcp, udp or sctp", s)
}

// String returns "tcp", "udp" or "sctp", and for another number a name for
// error messages.
func (p Proto) String() string {
	if name, ok := protoNames[p]; ok {
		return name
	}
	return "protocol " + strconv.Itoa(int(p))
}

// Valid says whether p is one of TCP, UDP and SCTP.
func (p Proto) Valid() bool { return p == TCP || p == UDP || p == SCTP }

// Set and Type make *Proto a pflag.Value.
func (p *Proto) Set(s string) error { return set(p, ParseProto, s) }

// Type names the value in flag help.
func (*Proto) Type() string { return "tcp|udp|sctp" }
