package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	neturl "net/url"
	"strconv"
	"strings"
)

// bodyLimit is how much of the body a Body regexp sees: enough for a
// status page, and a bound on what a broken server can make us read.
const bodyLimit = 64 << 10

// probeHTTP passes when the answer to one request has s.Status and, when
// s.Body is set, a body (its first bodyLimit bytes) that matches it.
// Redirects are not followed: their status is the answer, as with
// keepalived's HTTP_GET.
//
// One connection from the target's dialer, one request written on it, one
// answer read, and the connection closed: no http.Transport, whose pool,
// goroutines and allocations per probe cost the agent several times the
// CPU of the probe itself at hundreds of probes a second. The next probe
// takes the path again.
func probeHTTP(ctx context.Context, s Spec, t Target) error {
	url := string(s.Kind) + "://" + t.addr().String() + s.Path
	req, err := http.NewRequestWithContext(ctx, s.Method, url, nil)
	if err != nil {
		return fmt.Errorf("building the request %s %s: %w", s.Method, url, err)
	}
	req.Host = s.Host
	if req.Host == "" {
		req.Host = vipHost(s.Kind, t.Service)
	}
	req.Close = true
	// Errors read as net/http's client writes them (Get "URL": ...), with
	// the context's error when it is what ended the probe.
	failed := func(err error) error {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &neturl.Error{Op: s.Method[:1] + strings.ToLower(s.Method[1:]), URL: url, Err: err}
	}
	conn, err := t.dialer("tcp").DialContext(ctx, "tcp", t.addr().String())
	if err != nil {
		return failed(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if s.Kind == KindHTTPS {
		// TLS without verification, as keepalived's SSL_GET: a check
		// asks whether the real serves, not whether its certificate is
		// right, and reals often carry the VIP's name, or none.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: sniName(s.Host)})
		if err := tc.HandshakeContext(ctx); err != nil {
			return failed(err)
		}
		conn = tc
	}
	if err := req.Write(conn); err != nil {
		return failed(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(conn, bodyLimit+headerLimit)), req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != s.Status {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, s.Status)
	}
	if s.Body == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if !s.Body.Match(body) {
		return fmt.Errorf("body (%d bytes read, at most %d) does not match %q", len(body), bodyLimit, s.Body)
	}
	return nil
}

// headerLimit bounds the status line and headers read before the body.
const headerLimit = 64 << 10

// sniName is the server name a Host header asks for: without its port.
// An empty one (no Host given, so the VIP's address) sends no SNI, as
// clients do for addresses.
func sniName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// vipHost is the default Host header: the VIP, with the port when it is
// not the scheme's.
func vipHost(k Kind, vip netip.AddrPort) string {
	a := vip.Addr().WithZone("") // a zone is this host's, not a name
	if (k == KindHTTP && vip.Port() == 80) || (k == KindHTTPS && vip.Port() == 443) {
		if a.Is6() {
			return "[" + a.String() + "]"
		}
		return a.String()
	}
	return net.JoinHostPort(a.String(), strconv.Itoa(int(vip.Port())))
}
