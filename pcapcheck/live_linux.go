//go:build linux

package pcapcheck

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live captures from one interface with an AF_PACKET socket and a classic
// BPF filter in the kernel: no libpcap, no cgo.
type Live struct {
	fd    int
	iface string
	buf   []byte
}

// pollInterval is how long readPacket waits before it returns errNoPacket.
const pollInterval = 100 * time.Millisecond

// Link types (ARPHRD_*) a live capture accepts: both put an Ethernet
// header in front of every packet.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// openLive opens a capture on iface that keeps only the packets filter
// accepts, each cut to snaplen bytes. The filter is attached before the
// socket is bound to the interface, so no packet reaches it unfiltered.
// It needs CAP_NET_RAW.
func openLive(iface string, filter []bpf.RawInstruction, snaplen int) (*Live, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", iface, err)
	}
	if b, err := os.ReadFile("/sys/class/net/" + iface + "/type"); err == nil {
		t, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if t != arphrdEther && t != arphrdLoopback {
			return nil, fmt.Errorf("interface %s has link type %d (ARPHRD): verify captures on Ethernet interfaces only; capture with tcpdump -w and use --pcap for others", iface, t)
		}
	}
	if len(filter) == 0 || len(filter) > maxInsns {
		return nil, fmt.Errorf("capture filter of %d instructions: want 1-%d", len(filter), maxInsns)
	}
	// Protocol 0: the socket receives nothing until it is bound with a
	// protocol, after the filter is in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("opening a packet socket needs CAP_NET_RAW (run as root): %w", err)
		}
		return nil, fmt.Errorf("opening a packet socket: %w", err)
	}
	l := &Live{fd: fd, iface: iface, buf: make([]byte, snaplen)}
	fail := func(what string, err error) (*Live, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s on the packet socket for %s: %w", what, iface, err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: (*unix.SockFilter)(unsafe.Pointer(&filter[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return fail("attaching the BPF filter", err)
	}
	// A larger buffer rides out bursts; RCVBUFFORCE works as root only.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	tv := unix.NsecToTimeval(pollInterval.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("setting the receive timeout", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("binding", err)
	}
	return l, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// readPacket implements Source. The data is valid until the next call.
func (l *Live) readPacket() ([]byte, gopacket.CaptureInfo, error) {
	for {
		// MSG_TRUNC: n is the packet's full length even when the buffer
		// took fewer bytes.
		n, _, err := unix.Recvfrom(l.fd, l.buf, unix.MSG_TRUNC)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return nil, gopacket.CaptureInfo{}, errNoPacket
		default:
			return nil, gopacket.CaptureInfo{}, fmt.Errorf("reading from %s: %w", l.iface, err)
		}
		c := min(n, len(l.buf))
		return l.buf[:c], gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: c, Length: n}, nil
	}
}

// LinkType implements Source.
func (l *Live) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// drops returns how many packets the kernel dropped for lack of buffer
// space since the last call.
func (l *Live) drops() (uint64, error) {
	st, err := unix.GetsockoptTpacketStats(l.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, fmt.Errorf("reading the packet socket's statistics: %w", err)
	}
	return uint64(st.Drops), nil
}

// Close implements Source.
func (l *Live) Close() error { return unix.Close(l.fd) }
