package health

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// request is what an HTTP test server saw of a probe.
type request struct {
	method, path, host, sni string
	peer                    netip.Addr
}

// httpServer serves h on host (TLS when tls) and sends what it saw of each
// request to the channel it returns.
func httpServer(t *testing.T, host string, tls bool, h http.HandlerFunc) (netip.AddrPort, <-chan request) {
	t.Helper()
	seen := make(chan request, 16)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := request{method: r.Method, path: r.URL.Path, host: r.Host}
		if r.TLS != nil {
			q.sni = r.TLS.ServerName
		}
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			q.peer = ap.Addr()
		}
		select {
		case seen <- q:
		default: // a test that does not read them
		}
		h(w, r)
	}))
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s.Listener = l
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes that a probe's timeout cut
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return addrPort(t, l.Addr()), seen
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

func TestHTTPPasses(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		ap, seen := httpServer(t, host, false, status(200, "all is well"))
		s := Spec{Kind: KindHTTP, Path: "/healthz", Body: regexp.MustCompile("is w")}
		if r := runProbe(context.Background(), s, targetOf(ap, ipvs.ProtoTCP)); !r.OK {
			t.Fatalf("%s: %v", ap, r.Err)
		}
		q := <-seen
		if q.method != "GET" || q.path != "/healthz" || q.host != ap.String() {
			t.Errorf("the server saw %+v, want GET /healthz with Host %s (the VIP)", q, ap)
		}
	}
}

func TestHTTPFailsForTheRightReason(t *testing.T) {
	vip := netip.MustParseAddrPort("10.0.0.1:80")
	big := strings.Repeat("x", bodyLimit) + "MARK"
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		spec    Spec
		want    string // the error after "http 10.0.0.1:80 via 127.0.0.1: "
	}{
		{"wrong status", status(503, ""), Spec{}, "status 503, want 200"},
		{"a status other than the default", status(200, ""), Spec{Status: 204}, "status 200, want 204"},
		{"a redirect is not followed", status(302, ""), Spec{}, "status 302, want 200"},
		{"body mismatch", status(200, "maintenance"), Spec{Body: regexp.MustCompile("^ok")},
			`body (11 bytes read, at most 65536) does not match "^ok"`},
		{"past the body limit", status(200, big), Spec{Body: regexp.MustCompile("MARK")},
			`body (65536 bytes read, at most 65536) does not match "MARK"`},
	} {
		ap, _ := httpServer(t, "127.0.0.1", false, c.handler)
		tg := targetOf(ap, ipvs.ProtoTCP)
		tg.Service = vip
		c.spec.Kind = KindHTTP
		r := runProbe(context.Background(), c.spec, tg)
		want := "http 10.0.0.1:80 via 127.0.0.1: " + c.want
		if r.OK || r.Err.Error() != want {
			t.Errorf("%s: %+v, want the error %q", c.name, r, want)
		}
	}
}

func TestHTTPSkipsVerificationAndSendsHostAsSNI(t *testing.T) {
	ap, seen := httpServer(t, "127.0.0.1", true, status(200, ""))
	tg := targetOf(ap, ipvs.ProtoTCP)
	s := Spec{Kind: KindHTTPS, Method: "HEAD", Host: "www.example.com:8443"}
	if r := runProbe(context.Background(), s, tg); !r.OK {
		t.Fatal(r.Err) // httptest's certificate is self-signed
	}
	q := <-seen
	if q.method != "HEAD" || q.host != "www.example.com:8443" || q.sni != "www.example.com" {
		t.Errorf("the server saw %+v, want HEAD, Host www.example.com:8443, SNI www.example.com", q)
	}

	// With no Host, the VIP is the Host header, and an address is no SNI.
	if r := runProbe(context.Background(), Spec{Kind: KindHTTPS}, tg); !r.OK {
		t.Fatal(r.Err)
	}
	if q := <-seen; q.host != ap.String() || q.sni != "" {
		t.Errorf("the server saw %+v, want Host %s and no SNI", q, ap)
	}
}

func TestHTTPFailsByItsTimeout(t *testing.T) {
	ap, _ := listen(t, "127.0.0.1") // accepts, never answers
	failsByTimeout(t, Spec{Kind: KindHTTP, Timeout: 100 * time.Millisecond}, targetOf(ap, ipvs.ProtoTCP), `Get "http://`+ap.String()+`/": context deadline exceeded`)
}

func TestHTTPUsesTheTargetsDialer(t *testing.T) {
	for _, tls := range []bool{false, true} {
		ap, seen := httpServer(t, "127.0.0.1", tls, status(200, ""))
		tg := targetOf(ap, ipvs.ProtoTCP)
		tg.Dialer = boundDialer()
		kind := KindHTTP
		if tls {
			kind = KindHTTPS
		}
		if r := runProbe(context.Background(), Spec{Kind: kind}, tg); !r.OK {
			t.Fatal(r.Err)
		}
		if q := <-seen; q.peer != netip.MustParseAddr("127.0.0.2") {
			t.Errorf("%s: the server saw %s, want the dialer's 127.0.0.2", kind, q.peer)
		}
	}
}

func TestVIPHost(t *testing.T) {
	type hostCase struct {
		kind      Kind
		vip, want string
	}
	for _, c := range []hostCase{
		{KindHTTP, "10.0.0.1:80", "10.0.0.1"},
		{KindHTTP, "10.0.0.1:443", "10.0.0.1:443"},
		{KindHTTPS, "10.0.0.1:443", "10.0.0.1"},
		{KindHTTP, "[2001:db8::1]:80", "[2001:db8::1]"},
		{KindHTTPS, "[2001:db8::1]:8443", "[2001:db8::1]:8443"},
	} {
		if got := vipHost(c.kind, netip.MustParseAddrPort(c.vip)); got != c.want {
			t.Errorf("vipHost(%s, %s) = %q, want %q", c.kind, c.vip, got, c.want)
		}
	}
}
