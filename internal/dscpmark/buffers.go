package dscpmark

import (
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// bufferSize is the size of the socket buffers a batch may fill. The
// kernel refuses a netlink message larger than the send buffer (EMSGSIZE),
// and drops replies beyond the receive buffer (ENOBUFS); the defaults
// (212,992 bytes) hold about 2,500 marks, and an apply of thousands of
// services sends its marks in one transaction. 16 MiB holds some 200,000;
// the memory is taken only as a batch and its replies pass.
const bufferSize = 16 << 20

// WithBuffers sizes the socket buffers as nft does (also for the probes' table,
// internal/probe): SO_SNDBUFFORCE and
// SO_RCVBUFFORCE (root, or CAP_NET_ADMIN), else SO_SNDBUF and SO_RCVBUF,
// which net.core.wmem_max and rmem_max cap. A socket that cannot be sized
// (a test's) keeps its buffers: a batch too large for them is refused
// whole, as any refused batch.
var WithBuffers = nftables.WithSockOptions(func(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	for _, o := range []struct {
		force    int
		fallback func(int) error
	}{{unix.SO_SNDBUFFORCE, c.SetWriteBuffer}, {unix.SO_RCVBUFFORCE, c.SetReadBuffer}} {
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o.force, bufferSize)
		}); err == nil && serr != nil {
			_ = o.fallback(bufferSize)
		}
	}
	return nil
})
