package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/health"
)

// svcWith is a director file of one service: head (its keys before the
// check, indented six spaces) and the lines after "health:", each indented
// eight. The health key is on line 7.
func svcWith(head, check string) string {
	var b strings.Builder
	b.WriteString("director:\n  services:\n    - vip: 10.0.0.1:80\n")
	b.WriteString(head)
	for range 3 - strings.Count(head, "\n") {
		b.WriteString("      # -\n")
	}
	b.WriteString("      health:\n")
	for _, l := range strings.Split(strings.TrimSuffix(check, "\n"), "\n") {
		b.WriteString("        " + l + "\n")
	}
	return b.String()
}

const (
	dscpHead = "      dscp: 21\n      reals: [{address: 192.0.2.10}, {address: 192.0.2.11}]\n"
	udpHead  = "      proto: udp\n      mode: ipip\n      reals: [{address: 192.0.2.10}]\n"
	drHead   = "      mode: dr\n      reals: [{address: 192.0.2.10}]\n"
	natHead  = "      mode: nat\n      reals: [{address: 192.0.2.10}]\n"
	addrHead = "      mode: addr\n      reals: [{address: 192.0.2.10}]\n"
	sctpHead = "      proto: sctp\n      mode: nat\n"
)

// base is the Spec a check of kind k gets with nothing else written.
func base(k health.Kind, via health.Via) health.Spec {
	return health.Spec{Kind: k, Via: via}.WithDefaults()
}

// Every accepted form, and the Spec it gives: defaults filled in, the
// path resolved for the mode, names in their one spelling.
func TestParseHealthGood(t *testing.T) {
	with := func(s health.Spec, f func(*health.Spec)) health.Spec { f(&s); return s }
	tcp := base(health.KindTCP, health.ViaDSR)
	for _, tc := range []struct {
		name, head, check string
		want              health.Spec
		body              string
	}{
		{"tcp, dscp: the DSR path and keepalived's timing", dscpHead, "kind: tcp", tcp, ""},
		{"kind in capitals", dscpHead, "kind: TCP", tcp, ""},
		{"the brief's http example", dscpHead, `kind: http
via: dsr
interval: 2s
timeout: 1s
rise: 2
fall: 3
on_failure: quiesce
method: GET
path: /healthz
status: 200
body: "ok"
host: www.example.com`, with(base(health.KindHTTP, health.ViaDSR), func(s *health.Spec) {
			s.Interval, s.Timeout, s.Path, s.Host = 2*time.Second, time.Second, "/healthz", "www.example.com"
		}), "ok"},
		{"https, rip, head, remove, a query string", dscpHead, "kind: https\nvia: RIP\nmethod: head\non_failure: remove\npath: /status?full=1\nstatus: 204\nbody: '^(up|ok)$'\nrise: 1\nfall: 1000",
			with(base(health.KindHTTPS, health.ViaRIP), func(s *health.Spec) {
				s.Method, s.OnFailure, s.Path, s.Status, s.Rise, s.Fall = "HEAD", health.Remove, "/status?full=1", 204, 1, 1000
			}), "^(up|ok)$"},
		{"udp-dns defaults on an ipip service", udpHead, "kind: udp-dns", base(health.KindDNS, health.ViaDSR), ""},
		{"udp-dns names made canonical", udpHead, "kind: udp-dns\nquery: www.example.com\nqtype: aaaa\nrcode: nxdomain",
			with(base(health.KindDNS, health.ViaDSR), func(s *health.Spec) {
				s.Query, s.QType, s.RCode = "www.example.com.", "AAAA", "NXDOMAIN"
			}), ""},
		{"udp-dns, an absolute name", udpHead, "kind: udp-dns\nquery: example.com.", with(base(health.KindDNS, health.ViaDSR), func(s *health.Spec) { s.Query = "example.com." }), ""},
		{"udp-dns, a type by number", udpHead, "kind: udp-dns\nqtype: type65\nrcode: refused", with(base(health.KindDNS, health.ViaDSR), func(s *health.Spec) { s.QType, s.RCode = "TYPE65", "REFUSED" }), ""},
		{"exec: a list, no path, any protocol", sctpHead, "kind: exec\ncommand: [/usr/local/bin/check, --fast]",
			with(base(health.KindExec, ""), func(s *health.Spec) { s.Command = []string{"/usr/local/bin/check", "--fast"} }), ""},
		{"exec: one word", dscpHead, "kind: exec\ncommand: /usr/local/bin/check",
			with(base(health.KindExec, ""), func(s *health.Spec) { s.Command = []string{"/usr/local/bin/check"} }), ""},
		{"exec: a block list", dscpHead, "kind: exec\ncommand:\n  - /bin/check\n  - a b",
			with(base(health.KindExec, ""), func(s *health.Spec) { s.Command = []string{"/bin/check", "a b"} }), ""},
		{"dr: the real's own address", drHead, "kind: tcp", base(health.KindTCP, health.ViaRIP), ""},
		{"addr: the DSR path", addrHead, "kind: tcp", base(health.KindTCP, health.ViaDSR), ""},
		{"nat: rip written out", natHead, "kind: http\nvia: rip", base(health.KindHTTP, health.ViaRIP), ""},
		{"a short interval shortens the default timeout", dscpHead, "kind: tcp\ninterval: 1s",
			with(tcp, func(s *health.Spec) { s.Interval, s.Timeout = time.Second, time.Second }), ""},
		{"the shortest interval, timeout equal", dscpHead, "kind: tcp\ninterval: 100ms\ntimeout: 100ms",
			with(tcp, func(s *health.Spec) { s.Interval, s.Timeout = 100*time.Millisecond, 100*time.Millisecond }), ""},
		{"minutes and fractions", dscpHead, "kind: tcp\ninterval: 1m30s\ntimeout: 2.5s",
			with(tcp, func(s *health.Spec) { s.Interval, s.Timeout = 90*time.Second, 2500*time.Millisecond }), ""},
		{"a timeout under the default interval", dscpHead, "kind: tcp\ntimeout: 5s", with(tcp, func(s *health.Spec) { s.Timeout = 5 * time.Second }), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFile("f", []byte(svcWith(tc.head, tc.check)))
			if err != nil {
				t.Fatalf("%v\n%s", err, svcWith(tc.head, tc.check))
			}
			got := f.director.Services[0].Health
			if got == nil {
				t.Fatal("no check")
			}
			body := ""
			if got.Body != nil {
				body = got.Body.String()
			}
			g := *got
			g.Body = nil
			if !reflect.DeepEqual(g, tc.want) || body != tc.body {
				t.Errorf("check =\n %+v body %q\nwant\n %+v body %q", g, body, tc.want, tc.body)
			}
		})
	}
}

// A service without a health block has no check; the flow form is read as
// the block form is.
func TestParseHealthAbsentAndFlow(t *testing.T) {
	f := mustParse(t, "director:\n  services:\n    - {vip: 10.0.0.1:80, dscp: 21}\n    - {vip: 10.0.0.2:80, dscp: 22, health: {kind: tcp, interval: 2s}, sorry: 192.0.2.99}\n")
	s := f.director.Services
	if s[0].Health != nil || s[0].Sorry.IsValid() {
		t.Errorf("service without a check: %+v, sorry %v", s[0].Health, s[0].Sorry)
	}
	if h := s[1].Health; h == nil || h.Interval != 2*time.Second || h.Timeout != 2*time.Second || s[1].Sorry != netip.MustParseAddr("192.0.2.99") {
		t.Errorf("flow form: %+v, sorry %v", h, s[1].Sorry)
	}
}

// Each bad check is refused with exactly this text at this line, and
// nothing else is reported (no error comes twice).
func TestParseHealthErrors(t *testing.T) {
	const svc = "service tcp 10.0.0.1:80"
	for _, tc := range []struct {
		name, head, check string
		line              int
		want              string
	}{
		{"unknown kind", dscpHead, "kind: smtp", 8, `unknown check kind "smtp": use tcp, http, https, udp-dns or exec`},
		{"no kind", dscpHead, "interval: 2s", 8, "the health check of " + svc + " needs the key kind: use tcp, http, https, udp-dns or exec"},
		{"unknown key", dscpHead, "kind: tcp\ninterva: 2s", 9, `unknown key "interva" in a health check: the keys are body, command, fall, host, interval, kind, method, on_failure, path, qtype, query, rcode, rise, status, timeout, via`},
		{"rise 0", dscpHead, "kind: tcp\nrise: 0", 9, "rise 0 would never change the real's state: write at least 1 (the good checks in a row that bring a real back)"},
		{"fall 0", dscpHead, "kind: tcp\nfall: 0", 9, "fall 0 would never change the real's state: write at least 1 (the failed checks in a row that take a real out)"},
		{"rise not a number", dscpHead, "kind: tcp\nrise: two", 9, `rise "two" is not a whole number: give 1-1000, the good checks in a row that bring a real back`},
		{"fall too many", dscpHead, "kind: tcp\nfall: 1001", 9, "fall 1001 is out of range: give 1-1000, the failed checks in a row that take a real out"},
		{"timeout over interval", dscpHead, "kind: tcp\ninterval: 2s\ntimeout: 3s", 10, "timeout 3s is longer than the interval 2s: a probe would still run when the next is due; give a timeout of at most 2s, or a longer interval"},
		{"timeout over the default interval", dscpHead, "kind: tcp\ntimeout: 7s", 9, "timeout 7s is longer than the interval 6s (the default): a probe would still run when the next is due; give a timeout of at most 6s, or a longer interval"},
		{"interval under 100ms", dscpHead, "kind: tcp\ninterval: 50ms", 9, "interval 50ms is under 100ms: give 100ms or more"},
		{"interval without unit", dscpHead, "kind: tcp\ninterval: 2", 9, "interval 2 has no unit: write 2s (or ms, m)"},
		{"timeout without unit", dscpHead, "kind: tcp\ntimeout: 1.5", 9, "timeout 1.5 has no unit: write 1.5s (or ms, m)"},
		{"interval not a duration", dscpHead, "kind: tcp\ninterval: fast", 9, `interval "fast" is not a duration: write e.g. 500ms, 2s or 1m`},
		{"timeout 0s", dscpHead, "kind: tcp\ntimeout: 0s", 9, "timeout 0s is not positive: give a duration such as 1s"},
		{"timeout negative", dscpHead, "kind: tcp\ntimeout: -1s", 9, "timeout -1s is not positive: give a duration such as 1s"},
		{"interval a list", dscpHead, "kind: tcp\ninterval: [2s]", 9, "interval must be a single value, not a list"},
		{"path without /", dscpHead, "kind: http\npath: healthz", 9, `path "healthz" does not start with /: write the path of the URL, e.g. /healthz`},
		{"path with a space", dscpHead, "kind: http\npath: /a b", 9, `path "/a b" has a space or control character: escape it (a space is %20)`},
		{"status 99", dscpHead, "kind: http\nstatus: 99", 9, "status 99 is out of range: give an HTTP status 100-599"},
		{"status 600", dscpHead, "kind: https\nstatus: 600", 9, "status 600 is out of range: give an HTTP status 100-599"},
		{"bad body", dscpHead, "kind: http\nbody: '(ok'", 9, "body \"(ok\" is not a regular expression (Go's RE2 syntax): missing closing ): `(ok`; write e.g. 'body: \"ok|healthy\"'"},
		{"unknown method", dscpHead, "kind: http\nmethod: TRACE", 9, `method "TRACE" is not an HTTP method a check sends: use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`},
		{"host a URL", dscpHead, "kind: http\nhost: http://example.com/", 9, `host "http://example.com/" is not a host name: give the Host header alone, e.g. www.example.com (no scheme, path or space)`},
		{"host empty", dscpHead, "kind: http\nhost: ''", 9, "host is empty: give the Host header to send, e.g. www.example.com, or leave the key out for the VIP"},
		{"path on tcp", dscpHead, "kind: tcp\npath: /healthz", 9, "path is for http and https checks, and this one is tcp: drop it, or change the kind"},
		{"status on udp-dns", udpHead, "kind: udp-dns\nstatus: 200", 9, "status is for http and https checks, and this one is udp-dns: drop it, or change the kind"},
		{"query on http", dscpHead, "kind: http\nquery: example.com", 9, "query is for udp-dns checks, and this one is http: drop it, or change the kind"},
		{"command on tcp", dscpHead, "kind: tcp\ncommand: [/bin/true]", 9, "command is for exec checks, and this one is tcp: drop it, or change the kind"},
		{"via on exec", dscpHead, "kind: exec\nvia: dsr\ncommand: [/bin/true]", 9, "via is for tcp, http, https and udp-dns checks, and this one is exec: drop it, or change the kind"},
		{"exec without command", dscpHead, "kind: exec", 8, "an exec check needs the key command: e.g. 'command: [/usr/local/bin/check, --fast]' (exit status 0 means up)"},
		{"command one string", dscpHead, "kind: exec\ncommand: /usr/local/bin/check --fast", 9, `command "/usr/local/bin/check --fast" is one string: write the program and its arguments as a list, e.g. [/usr/local/bin/check, --fast]`},
		{"command relative", dscpHead, "kind: exec\ncommand: [check]", 9, `command "check" does not start with an absolute path: the agent runs with systemd's PATH, so write e.g. /usr/local/bin/check`},
		{"command empty", dscpHead, "kind: exec\ncommand: []", 9, "command is empty: give the program and its arguments, e.g. [/usr/local/bin/check, --fast]"},
		{"command a mapping", dscpHead, "kind: exec\ncommand: {a: b}", 9, "command must be a list (lines starting with '- '), not a mapping"},
		{"unknown qtype", udpHead, "kind: udp-dns\nqtype: AXFR", 9, `unknown DNS query type "AXFR": use A, AAAA, NS, SOA, CNAME, PTR, MX, TXT, SRV, SVCB, HTTPS, CAA, DS, DNSKEY, HINFO, ANY or TYPE<number>`},
		{"unknown rcode", udpHead, "kind: udp-dns\nrcode: OK", 9, `unknown DNS rcode "OK": use one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, NOTZONE`},
		{"query with an empty label", udpHead, "kind: udp-dns\nquery: a..b", 9, `bad DNS query name "a..b": an empty label: give a name such as example.com or .`},
		{"query with a long label", udpHead, "kind: udp-dns\nquery: " + strings.Repeat("x", 64) + ".com", 9, `bad DNS query name "` + strings.Repeat("x", 64) + `.com": a label longer than 63 characters: give a name such as example.com or .`},
		{"via dsr on dr", drHead, "kind: tcp\nvia: dsr", 9, "via dsr is for dscp, addr and ipip services, and " + svc + " is in dr mode, where a probe to the real's address takes the clients' path: drop via, or write 'via: rip'"},
		{"via dsr on nat", natHead, "kind: tcp\nvia: DSR", 9, "via dsr is for dscp, addr and ipip services, and " + svc + " is in nat mode, where a probe to the real's address takes the clients' path: drop via, or write 'via: rip'"},
		{"via rip on addr", addrHead, "kind: tcp\nvia: rip", 9, "via rip cannot check " + svc + ": in addr mode the real's address is the VIP's own address on the real server, which rewrites every packet to it to the VIP, so the answer comes from the VIP: drop via, or write 'via: dsr'"},
		{"unknown via", dscpHead, "kind: tcp\nvia: vip", 9, `unknown check path "vip": use dsr (as client traffic goes: the default for dscp and ipip services) or rip (a plain probe to the real server's address)`},
		{"unknown on_failure", dscpHead, "kind: tcp\non_failure: drop", 9, `unknown on_failure "drop": use quiesce (weight 0, connections finish) or remove (the real is deleted until it is up again)`},
		{"http on udp", udpHead, "kind: http", 8, "an http check speaks tcp, and service udp 10.0.0.1:80 is udp: use udp-dns or exec"},
		{"udp-dns on tcp", dscpHead, "kind: udp-dns", 8, "a udp-dns check speaks udp, and " + svc + " is tcp: use tcp, http, https or exec"},
		{"tcp on sctp", sctpHead, "kind: tcp", 8, "a tcp check speaks tcp, and service sctp 10.0.0.1:80 is sctp: use exec"},
		{"empty health", dscpHead, "", 7, "health of " + svc + " is empty: give at least its kind, e.g. 'health: {kind: tcp}', or leave the key out"},
		{"health a list", dscpHead, "- kind: tcp", 8, "a health check must be a mapping with the keys body, command, fall, host, interval, kind, method, on_failure, path, qtype, query, rcode, rise, status, timeout, via, not a list"},
		{"health twice", dscpHead + "      health: {kind: tcp}\n", "kind: tcp", 7, `key "health" in a director service is given twice (also on line 6): keep one`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := svcWith(tc.head, tc.check)
			if tc.name == "health twice" {
				in = strings.Replace(in, "      # -\n", "", 1)
			}
			wantErr(t, in, tc.line, tc.want)
		})
	}
}

// wantErr parses in as file "f" and wants exactly one error, at line with
// the text want.
func wantErr(t *testing.T, in string, line int, want string) {
	t.Helper()
	f, err := parseFile("f", []byte(in))
	var es Errors
	if !errors.As(err, &es) || f != nil {
		t.Fatalf("Parse = %+v, %v; want Errors\n%s", f, err, in)
	}
	if len(es) != 1 || es[0].pos.Line != line || es[0].Msg != want {
		t.Errorf("errors:\n%v\nwant one, at line %d:\n%s\nin\n%s", es, line, want, in)
	}
}

func TestParseSorry(t *testing.T) {
	const svc = "service tcp 10.0.0.1:80"
	ok := mustParse(t, svcWith(dscpHead+"      sorry: 192.0.2.99\n", "kind: tcp"))
	if s := ok.director.Services[0]; s.Sorry != netip.MustParseAddr("192.0.2.99") || s.sorryPos.Line != 6 || len(s.Service.Reals) != 2 {
		t.Errorf("sorry = %v at %v, reals %v", s.Sorry, s.sorryPos, s.Service.Reals)
	}
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"other family", svcWith(dscpHead+"      sorry: 2001:db8::99\n", "kind: tcp"), 6, "sorry 2001:db8::99 and the VIP 10.0.0.1 are of different address families: give an IPv4 sorry real"},
		{"one of the reals", svcWith(dscpHead+"      sorry: 192.0.2.11\n", "kind: tcp"), 6, "sorry 192.0.2.11 is also a real of " + svc + " (at f:5): give another server, one that is not checked with the reals"},
		{"without a check", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 21\n      sorry: 192.0.2.99\n", 5, "sorry 192.0.2.99 takes the traffic while every real fails its health check, and " + svc + " has no health block: add one, or drop sorry"},
		{"not an address", svcWith(dscpHead+"      sorry: sorry.example\n", "kind: tcp"), 6, `sorry "sorry.example" is not an IP address`},
		{"its code clashes", "director:\n  services:\n    - {vip: 10.0.0.1:80, dscp: 21, reals: [{address: 192.0.2.99}]}\n    - {vip: 10.0.0.2:80, dscp: 21, health: {kind: tcp},\n       sorry: 192.0.2.99}\n", 5,
			"DSCP 21 would stand for two VIPs on real server 192.0.2.99: 10.0.0.2 (service tcp 10.0.0.2:80) and 10.0.0.1 (service tcp 10.0.0.1:80 at f:3); the real server could not tell them apart: give one of the services another dscp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not an address" {
				// dsrtypes.ParseAddr's own words follow; the start is ours.
				_, err := parseFile("f", []byte(tc.in))
				if err == nil || !strings.HasPrefix(err.Error(), "f:6: "+tc.want) {
					t.Errorf("error = %v; want f:6: %s...", err, tc.want)
				}
				return
			}
			wantErr(t, tc.in, tc.line, tc.want)
		})
	}
}

// Errors in a check are reported with the others of the file, not instead
// of them.
func TestParseHealthCollectsEveryError(t *testing.T) {
	in := svcWith(dscpHead, "kind: tcp\nrise: 0\npath: /x\ntimeout: 2\nvia: dsr") +
		svcWith(drHead, "kind: tcp\nvia: dsr\nfall: 0\ninterval: 1s\ntimeout: 2s")[len("director:\n  services:\n"):] +
		"bogus: 1\n"
	_, err := parseFile("f", []byte(in))
	var es Errors
	if !errors.As(err, &es) || len(es) != 7 {
		t.Fatalf("want 7 errors, got %v", err)
	}
	for i, line := range []int{9, 10, 11, 19, 20, 22, 23} {
		if es[i].pos.Line != line {
			t.Errorf("error %d at line %d, want %d: %v", i, es[i].pos.Line, line, es[i])
		}
	}
}
