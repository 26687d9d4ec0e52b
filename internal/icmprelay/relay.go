package icmprelay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Result is what became of one ICMP error, the label of
// l3dsr_icmp_relay_packets_total.
type Result string

// The results.
const (
	Relayed   Result = "relayed"
	NotVIP    Result = "not_vip"
	NoReal    Result = "no_real"
	Malformed Result = "malformed"
	SendError Result = "send_error"
)

// Lookup finds where the error about flow q goes: a Target and "" when
// found, else why not (NotVIP, NoReal).
type Lookup func(q Quoted) (Target, Result)

// Relay reads ICMP errors off the network namespace's links and sends them
// on to the real servers.
type Relay struct {
	// recv are packet sockets, one per family: bound to ETH_P_IP and
	// ETH_P_IPV6 rather than ETH_P_ALL so that the kernel hands them
	// received packets only; an ETH_P_ALL socket is a tap on every packet
	// the director sends as well, a clone of each.
	recv []*os.File
	// send4 and send6 are IPPROTO_RAW sockets: they take the packet with
	// its IP header as toReal made it (send6 is -1 without IPv6).
	send4, send6 int
	// link4 and link6 are packet sockets for linkSend, the way the copies
	// go when the next hop's link-layer address is known.
	link4, link6 int
	// nl reads routes and neighbors in the namespace Open ran in, whatever
	// thread Run runs on.
	nl *netlink.Handle
	// viaLink and viaIP count the copies each way sent (the test's view).
	viaLink, viaIP atomic.Uint64
	closeOnce      sync.Once
}

// Open opens the relay's sockets in the calling thread's network namespace.
// Without IPv6 in the kernel (ipv6.disable=1) it relays IPv4 only.
func Open() (*Relay, error) {
	r := &Relay{send4: -1, send6: -1, link4: -1, link6: -1}
	prog, err := filter()
	if err != nil {
		return nil, err
	}
	for _, fam := range []struct {
		proto uint16
		name  string
	}{{unix.ETH_P_IP, "IPv4"}, {unix.ETH_P_IPV6, "IPv6"}} {
		f, err := packetSocket(fam.proto, prog)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open the %s ICMP relay's packet socket: %w", fam.name, err)
		}
		r.recv = append(r.recv, f)
	}
	if r.send4, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
		r.Close()
		return nil, fmt.Errorf("open the ICMP relay's raw IPv4 socket: %w", err)
	}
	if r.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
		r.Close()
		return nil, fmt.Errorf("open the ICMP relay's netlink socket: %w", err)
	}
	for _, fd := range []*int{&r.link4, &r.link6} {
		// Protocol 0: a socket for sending only, which receives nothing.
		if *fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			r.Close()
			return nil, fmt.Errorf("open the ICMP relay's sending packet socket: %w", err)
		}
	}
	r.send6, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if errors.Is(err, unix.EAFNOSUPPORT) {
		r.send6 = -1
		slog.Info("ICMP relay: the kernel has no IPv6, relaying IPv4 only")
	} else if err != nil {
		r.Close()
		return nil, fmt.Errorf("open the ICMP relay's raw IPv6 socket: %w", err)
	}
	return r, nil
}

// packetSocket opens a SOCK_DGRAM packet socket for proto with the filter
// attached before it is bound: a socket bound first would queue packets
// the filter never saw.
func packetSocket(proto uint16, prog []unix.SockFilter) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: unsafe.SliceData(prog)}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attach the socket filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind to protocol %#04x: %w", proto, err)
	}
	// Non-blocking, so that os.File reads through the runtime's poller and
	// a deadline ends them.
	return os.NewFile(uintptr(fd), fmt.Sprintf("packet socket %#04x", proto)), nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Run relays until ctx ends, then returns nil; or returns the error that
// stopped a socket's reads. look and count are called from one goroutine.
func (r *Relay) Run(ctx context.Context, look Lookup, count func(Result)) error {
	if len(r.recv) == 0 {
		return errors.New("ICMP relay is closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pkts := make(chan []byte)
	errs := make(chan error, len(r.recv))
	var wg sync.WaitGroup
	for _, f := range r.recv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- read(ctx, f, pkts)
		}()
	}
	stop := context.AfterFunc(ctx, func() {
		for _, f := range r.recv {
			f.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	for {
		select {
		case pkt := <-pkts:
			count(r.relay(pkt, look))
		case err := <-errs:
			cancel()
			wg.Wait()
			if err == nil {
				return nil
			}
			return err
		}
	}
}

// read hands the packets of f to pkts until ctx ends (nil) or a read fails.
func read(ctx context.Context, f *os.File, pkts chan<- []byte) error {
	buf := make([]byte, snapLen)
	for {
		n, err := f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ICMP relay: read %s: %w", f.Name(), err)
		}
		select {
		case pkts <- append([]byte(nil), buf[:n]...):
		case <-ctx.Done():
			return nil
		}
	}
}

// relay sends on one packet and says what became of it.
func (r *Relay) relay(pkt []byte, look Lookup) Result {
	q, err := parse(pkt)
	if err != nil {
		slog.Debug("ICMP relay: packet dropped", "err", err)
		return Malformed
	}
	t, res := look(q)
	if res != "" {
		slog.Debug("ICMP relay: no real server for the flow", "vip", netip.AddrPortFrom(q.VIP, q.VIPPort), "client", netip.AddrPortFrom(q.Client, q.ClientPort), "result", res)
		return res
	}
	out, err := toReal(pkt, t)
	if err == nil {
		err = r.send(out, t.RIP)
	}
	if err != nil {
		slog.Debug("ICMP relay: send failed", "vip", q.VIP, "real", t.RIP, "err", err)
		return SendError
	}
	return Relayed
}

// send sends pkt, whose IP header is complete, toward its first hop to
// dst: on the link when the next hop's address is known (linkSend says
// why), else through the IP stack, which resolves it.
func (r *Relay) send(pkt []byte, dst netip.Addr) error {
	err := r.linkSend(pkt, dst)
	if err == nil {
		r.viaLink.Add(1)
		return nil
	}
	slog.Debug("ICMP relay: sending through the IP stack", "real", dst, "why", err)
	r.viaIP.Add(1)
	return r.ipSend(pkt, dst)
}

// ipSend sends pkt through a raw socket.
func (r *Relay) ipSend(pkt []byte, dst netip.Addr) error {
	if dst.Is4() {
		if err := unix.Sendto(r.send4, pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
			return fmt.Errorf("send to %s: %w", dst, err)
		}
		return nil
	}
	if r.send6 < 0 {
		return fmt.Errorf("send to %s: the kernel has no IPv6", dst)
	}
	if err := unix.Sendto(r.send6, pkt, 0, &unix.SockaddrInet6{Addr: dst.As16()}); err != nil {
		return fmt.Errorf("send to %s: %w", dst, err)
	}
	return nil
}

// Close closes the relay's sockets; a Run in progress returns.
func (r *Relay) Close() error {
	var errs []error
	r.closeOnce.Do(func() {
		for _, f := range r.recv {
			errs = append(errs, f.Close())
		}
		if r.nl != nil {
			r.nl.Close()
		}
		for _, fd := range []int{r.send4, r.send6, r.link4, r.link6} {
			if fd >= 0 {
				errs = append(errs, unix.Close(fd))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close the ICMP relay: %w", err)
	}
	return nil
}
