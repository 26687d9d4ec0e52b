package doctor

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Features are the receive offloads of a NIC that cost a DSR real server
// CPU when they are off.
type Features struct {
	// RxChecksum: the NIC verifies checksums (ethtool's "rx"). Off, the
	// kernel verifies every packet's checksum in software.
	RxChecksum bool
	// GRO: the kernel merges a flow's segments before the stack (and
	// xt_DADDR, which rewrites a GRO packet's headers once for all of its
	// segments). Off, every segment pays the whole path on its own.
	GRO bool
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct{ cmd, data uint32 }

// ifreqData is struct ifreq with ifr_data set: the name, then the union,
// whose largest member (struct ifmap) is 24 bytes on 64-bit; the padding
// makes it at least as large as the kernel's on every architecture.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24]byte
}

// readFeatures asks dev's driver through the ethtool ioctl (SIOCETHTOOL),
// as `ethtool -k DEV` does, with no ethtool binary and no new module.
func readFeatures(dev string) (Features, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Features{}, fmt.Errorf("opening a socket for the ethtool ioctl: %w", err)
	}
	defer unix.Close(fd)
	get := func(cmd uint32, what string) (bool, error) {
		if len(dev) >= unix.IFNAMSIZ {
			return false, fmt.Errorf("interface name %q is too long for the ethtool ioctl", dev)
		}
		v := ethtoolValue{cmd: cmd}
		var ifr ifreqData
		copy(ifr.name[:], dev)
		ifr.data = unsafe.Pointer(&v)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&v)
		if errno != 0 {
			return false, fmt.Errorf("reading %s of %s (ethtool -k %s): %w", what, dev, dev, errno)
		}
		return v.data != 0, nil
	}
	var f Features
	if f.RxChecksum, err = get(unix.ETHTOOL_GRXCSUM, "rx checksumming"); err != nil {
		return Features{}, err
	}
	if f.GRO, err = get(unix.ETHTOOL_GGRO, "generic-receive-offload"); err != nil {
		return Features{}, err
	}
	return f, nil
}
