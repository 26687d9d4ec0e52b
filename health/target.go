package health

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Target is one real server of one service, as a probe reaches it.
type Target struct {
	Service netip.AddrPort // VIP:port
	Proto   ipvs.Protocol
	Real    netip.Addr
	// Addr is where the probe connects: VIP:port on the DSR path, RIP:port
	// on the rip path. The zero value means Service.
	Addr netip.AddrPort
	// Dialer makes every socket of the probe; nil is a plain one. On the
	// DSR path it is the caller's, with the mark that routes it.
	Dialer *net.Dialer
}

// Result is one probe's outcome.
type Result struct {
	OK      bool
	Latency time.Duration
	// Err says why the probe failed, naming the target; nil when OK.
	Err error
	// At is when the probe ended.
	At time.Time
}

// addr is where the probe connects.
func (t Target) addr() netip.AddrPort {
	if t.Addr.IsValid() {
		return t.Addr
	}
	return t.Service
}

// name is how errors name the target: the service and the real, which is
// what an operator looks up, whatever the path.
func (t Target) name(k Kind) string {
	return fmt.Sprintf("%s %s via %s", k, t.Service, t.Real)
}

// dialer returns the target's dialer for network, with a local address of
// the right type: a caller's dialer bound with a *net.TCPAddr would
// otherwise fail every udp-dns probe with "mismatched local address type".
func (t Target) dialer(network string) *net.Dialer {
	if t.Dialer == nil {
		return &net.Dialer{}
	}
	d := *t.Dialer
	switch la := d.LocalAddr.(type) {
	case *net.TCPAddr:
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: la.IP, Port: la.Port, Zone: la.Zone}
		}
	case *net.UDPAddr:
		if network == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: la.IP, Port: la.Port, Zone: la.Zone}
		}
	}
	return &d
}
