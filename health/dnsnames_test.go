package health

import (
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func TestParseQType(t *testing.T) {
	for in, want := range map[string]dnsmessage.Type{
		"A": dnsmessage.TypeA, "aaaa": dnsmessage.TypeAAAA, " SOA ": dnsmessage.TypeSOA,
		"any": dnsmessage.TypeALL, "CAA": 257, "TYPE99": 99, "type65535": 65535,
	} {
		if got, err := ParseQType(in); err != nil || got != want {
			t.Errorf("ParseQType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "AAA", "TYPE", "TYPE65536", "TYPE-1", "1"} {
		if _, err := ParseQType(in); err == nil || !strings.Contains(err.Error(), "use A, AAAA") {
			t.Errorf("ParseQType(%q): %v, want an error that lists the types", in, err)
		}
	}
}

func TestParseRCode(t *testing.T) {
	for in, want := range map[string]dnsmessage.RCode{
		"NOERROR": dnsmessage.RCodeSuccess, "nxdomain": dnsmessage.RCodeNameError,
		"ServFail": dnsmessage.RCodeServerFailure, "REFUSED": dnsmessage.RCodeRefused, "NOTZONE": 10,
	} {
		if got, err := ParseRCode(in); err != nil || got != want {
			t.Errorf("ParseRCode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseRCode("OK"); err == nil || !strings.Contains(err.Error(), "NOERROR, FORMERR") {
		t.Errorf("ParseRCode(OK): %v, want an error that lists the codes", err)
	}
	if got := rcodeName(15); got != "RCODE15" {
		t.Errorf("rcodeName(15) = %q", got)
	}
}

func TestParseQuery(t *testing.T) {
	for in, want := range map[string]string{".": ".", "example.com": "example.com.", "example.com.": "example.com."} {
		if got, err := ParseQuery(in); err != nil || got.String() != want {
			t.Errorf("ParseQuery(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"a..b", strings.Repeat("x", 64) + ".com", strings.Repeat("abcdefg.", 32) + "com"} {
		if _, err := ParseQuery(in); err == nil {
			t.Errorf("ParseQuery(%q) passed", in)
		}
	}
}
