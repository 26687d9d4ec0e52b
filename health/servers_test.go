package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// targetOf is the target of a service at ap whose real is ap's address,
// probed at ap: the rip path, as every local test server is.
func targetOf(ap netip.AddrPort, proto ipvs.Protocol) Target {
	return Target{Service: ap, Proto: proto, Real: ap.Addr(), Addr: ap}
}

// addrPort is the address a listener or packet conn was given.
func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// closedPort is a port of host that nothing listens on (it did a moment
// ago), on network "tcp" or "udp".
func closedPort(t *testing.T, network, host string) netip.AddrPort {
	t.Helper()
	var a net.Addr
	if network == "udp" {
		c, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		a = c.LocalAddr()
		c.Close()
	} else {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		a = l.Addr()
		l.Close()
	}
	return addrPort(t, a)
}

// listen is a TCP listener on host that the test closes; accepted
// connections go to conns (the test reads their peers), and are held open,
// never answered, until the test ends: a server that never answers.
func listen(t *testing.T, host string) (netip.AddrPort, <-chan net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	t.Cleanup(func() {
		l.Close()
		for len(conns) > 0 {
			(<-conns).Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				c.Close()
			}
		}
	}()
	return addrPort(t, l.Addr()), conns
}

// stalledDialer is a dialer whose connect never ends until its context
// does: a path that loses every packet, without sending any off the host.
func stalledDialer() *net.Dialer {
	return &net.Dialer{ControlContext: func(ctx context.Context, _, _ string, _ syscall.RawConn) error {
		<-ctx.Done()
		return ctx.Err()
	}}
}

// boundDialer is a dialer whose sockets are bound to 127.0.0.2, as the
// agent's DSR dialer binds its own: a server sees it as the peer.
func boundDialer() *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
}

// failsByTimeout probes tg with s and wants a failure by s.Timeout, whose
// error then says want, within a second at most.
func failsByTimeout(t *testing.T, s Spec, tg Target, want string) {
	t.Helper()
	start := time.Now()
	r := runProbe(context.Background(), s, tg)
	if took := time.Since(start); took > time.Second {
		t.Errorf("the probe took %v, its timeout is %v", took, s.Timeout)
	}
	want = fmt.Sprintf("no answer within the timeout of %v: %s", s.Timeout, want)
	if r.OK || !strings.Contains(r.Err.Error(), want) {
		t.Errorf("%+v, want a failure by the timeout: %q", r, want)
	}
}
