package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
)

// bodyLimit is how much of the body a Body regexp sees: enough for a
// status page, and a bound on what a broken server can make us read.
const bodyLimit = 64 << 10

// probeHTTP passes when the answer to one request has s.Status and, when
// s.Body is set, a body (its first bodyLimit bytes) that matches it.
// Redirects are not followed: their status is the answer, as with
// keepalived's HTTP_GET.
func probeHTTP(ctx context.Context, s Spec, t Target) error {
	tr := httpTransport(s, t)
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	url := string(s.Kind) + "://" + t.addr().String() + s.Path
	req, err := http.NewRequestWithContext(ctx, s.Method, url, nil)
	if err != nil {
		return fmt.Errorf("building the request %s %s: %w", s.Method, url, err)
	}
	req.Host = s.Host
	if req.Host == "" {
		req.Host = vipHost(s.Kind, t.Service)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
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

// httpTransport is a probe's own transport: its sockets from the target's
// dialer, one connection that is not kept (the next probe must take the
// path again), no proxy from the environment (the agent's may name one),
// and TLS without verification, as keepalived's SSL_GET: a check asks
// whether the real serves, not whether its certificate is right, and
// reals often carry the VIP's name, or none.
func httpTransport(s Spec, t Target) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            t.dialer("tcp").DialContext,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: bodyLimit,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true,
			ServerName:         sniName(s.Host),
		},
	}
}

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
