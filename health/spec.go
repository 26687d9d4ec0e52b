package health

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Kind is what a check does to decide that a real server is up.
type Kind string

const (
	// KindTCP: a TCP connect to the service's port.
	KindTCP Kind = "tcp"
	// KindHTTP and KindHTTPS: a request whose status (and body, when a
	// regexp is given) is as expected.
	KindHTTP  Kind = "http"
	KindHTTPS Kind = "https"
	// KindDNS: a DNS query over UDP whose answer has the expected rcode:
	// DNS is where UDP DSR is most common.
	KindDNS Kind = "udp-dns"
	// KindExec: keepalived's MISC_CHECK, a command whose exit status 0
	// means up.
	KindExec Kind = "exec"
)

// KindUse names the kinds, for errors that refuse one.
const KindUse = "use tcp, http, https, udp-dns or exec"

// ParseKind accepts the kinds by their names, in any case.
func ParseKind(s string) (Kind, error) {
	return oneOf(s, "check kind", KindUse, KindTCP, KindHTTP, KindHTTPS, KindDNS, KindExec)
}

// oneOf returns s, in any case and without spaces around it, as the one of
// names it is; else an error naming s as a what, with the fix use.
func oneOf[T ~string](s, what, use string, names ...T) (T, error) {
	v := T(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(names, v) {
		return v, nil
	}
	return "", fmt.Errorf("unknown %s %q: %s", what, s, use)
}

// Via is the path a probe takes to the real server.
type Via string

const (
	// ViaDSR sends the probe as the service sends a client's packets
	// (addressed to the real server with the service's DSCP code, or
	// through its tunnel), to VIP:port, and passes only when the answer
	// comes back from the VIP: it fails when the real server's mapping,
	// its VIP on lo or its tunnel is missing. The default in dscp and ipip
	// mode.
	ViaDSR Via = "dsr"
	// ViaRIP sends a plain probe to the real server's own address. The
	// default in dr and nat mode, where the path is the director's link or
	// plain NAT.
	ViaRIP Via = "rip"
)

// ParseVia accepts "dsr" and "rip", in any case.
func ParseVia(s string) (Via, error) {
	return oneOf(s, "check path", "use dsr (as client traffic goes: the default for dscp and ipip services) or rip (a plain probe to the real server's address)", ViaDSR, ViaRIP)
}

// OnFailure is what happens to a real server that fails its check.
type OnFailure string

const (
	// Quiesce sets its weight to 0: connections it has finish, new ones
	// go elsewhere. The default.
	Quiesce OnFailure = "quiesce"
	// Remove deletes it from the service (keepalived's
	// inhibit_on_failure off), and adds it back when it is up again.
	Remove OnFailure = "remove"
)

// ParseOnFailure accepts "quiesce" and "remove", in any case.
func ParseOnFailure(s string) (OnFailure, error) {
	return oneOf(s, "on_failure", "use quiesce (weight 0, connections finish) or remove (the real is deleted until it is up again)", Quiesce, Remove)
}

// Defaults, as keepalived's checkers and HAProxy use them: a probe every
// few seconds, a real is down after 3 failures in a row and up again after
// 2 successes.
const (
	DefaultInterval = 6 * time.Second
	defaultTimeout  = 3 * time.Second
	defaultRise     = 2
	defaultFall     = 3
)

// Spec is the health check of one service, as the config file gives it.
// The zero values of Method, Status and RCode are their defaults.
type Spec struct {
	Kind     Kind
	Via      Via // "" is the default of the service's mode
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	// OnFailure is what a failing real gets.
	OnFailure OnFailure

	// http and https
	Method string         // GET
	Path   string         // "/"
	Status int            // 200
	Body   *regexp.Regexp // nil: any body
	Host   string         // the Host header; "" is the VIP

	// udp-dns
	Query string // the name asked for; "." by default
	QType string // A, AAAA, NS, SOA, ... ; SOA by default
	RCode string // NOERROR by default

	// exec: argv, run with L3DSR_VIP, L3DSR_PORT, L3DSR_REAL and
	// L3DSR_PROTO in its environment.
	Command []string
}

// WithDefaults returns s with every unset field at its default.
func (s Spec) WithDefaults() Spec {
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = min(defaultTimeout, s.Interval)
	}
	if s.Rise == 0 {
		s.Rise = defaultRise
	}
	if s.Fall == 0 {
		s.Fall = defaultFall
	}
	if s.OnFailure == "" {
		s.OnFailure = Quiesce
	}
	if s.Kind == KindHTTP || s.Kind == KindHTTPS {
		if s.Method == "" {
			s.Method = "GET"
		}
		if s.Path == "" {
			s.Path = "/"
		}
		if s.Status == 0 {
			s.Status = 200
		}
	}
	if s.Kind == KindDNS {
		if s.Query == "" {
			s.Query = "."
		}
		if s.QType == "" {
			s.QType = "SOA"
		}
		if s.RCode == "" {
			s.RCode = "NOERROR"
		}
	}
	return s
}
