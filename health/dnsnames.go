package health

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// qtypes are the query types by their names in zone files and dig.
var qtypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "NS": dnsmessage.TypeNS, "CNAME": dnsmessage.TypeCNAME,
	"SOA": dnsmessage.TypeSOA, "PTR": dnsmessage.TypePTR, "MX": dnsmessage.TypeMX,
	"TXT": dnsmessage.TypeTXT, "AAAA": dnsmessage.TypeAAAA, "SRV": dnsmessage.TypeSRV,
	"SVCB": dnsmessage.TypeSVCB, "HTTPS": dnsmessage.TypeHTTPS, "HINFO": dnsmessage.TypeHINFO,
	"CAA": 257, "DS": 43, "DNSKEY": 48, "ANY": dnsmessage.TypeALL,
}

// ParseQType accepts a query type by name (A, AAAA, SOA, ..., in any case)
// or in RFC 3597's generic form, TYPE<n>, so that a check can ask for a
// type this list lacks.
func ParseQType(s string) (dnsmessage.Type, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if t, ok := qtypes[u]; ok {
		return t, nil
	}
	if n, ok := strings.CutPrefix(u, "TYPE"); ok {
		if v, err := strconv.ParseUint(n, 10, 16); err == nil {
			return dnsmessage.Type(v), nil
		}
	}
	return 0, fmt.Errorf("unknown DNS query type %q: use A, AAAA, NS, SOA, CNAME, PTR, MX, TXT, SRV, SVCB, HTTPS, CAA, DS, DNSKEY, HINFO, ANY or TYPE<number>", s)
}

// rcodes are the response codes a header carries (4 bits), by their
// names in RFC 1035 and 2136, as dig prints them.
var rcodes = []string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
}

// ParseRCode accepts a response code by its name (NOERROR, NXDOMAIN,
// SERVFAIL, REFUSED, ..., in any case).
func ParseRCode(s string) (dnsmessage.RCode, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range rcodes {
		if u == n {
			return dnsmessage.RCode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown DNS rcode %q: use one of %s", s, strings.Join(rcodes, ", "))
}

// rcodeName is the name of a code a reply carried, for errors.
func rcodeName(r dnsmessage.RCode) string {
	if int(r) < len(rcodes) {
		return rcodes[r]
	}
	return fmt.Sprintf("RCODE%d", uint16(r))
}

// ParseQuery accepts the name a check asks for, with or without its final
// dot ("." is the root).
func ParseQuery(s string) (dnsmessage.Name, error) {
	q := strings.TrimSpace(s)
	if !strings.HasSuffix(q, ".") {
		q += "."
	}
	bad := func(why string) (dnsmessage.Name, error) {
		return dnsmessage.Name{}, fmt.Errorf("bad DNS query name %q: %s: give a name such as example.com or .", s, why)
	}
	if len(q) > 254 {
		return bad("longer than 253 characters")
	}
	if q != "." {
		for l := range strings.SplitSeq(strings.TrimSuffix(q, "."), ".") {
			switch {
			case l == "":
				return bad("an empty label")
			case len(l) > 63:
				return bad("a label longer than 63 characters")
			}
		}
	}
	return dnsmessage.NewName(q)
}
