// Package ipvs is a client of the Linux kernel's IP Virtual Server over its
// "IPVS" generic netlink family: services by protocol, address and port or
// by firewall mark, IPv4 and IPv6, their destinations, and their 64-bit
// counters, in the calling thread's network namespace or a chosen one.
//
// It exists because no library fits this project. cloudflare/ipvs, built on
// the same mdlayher/genetlink, cannot be had from the Go module proxy here.
// moby/ipvs is stale since 2023, reads only the 32-bit counters (which wrap
// on a busy director) and pulls in vishvananda/netlink, which this project
// does not use. The family's ABI is small and stable, so this package
// speaks it directly; abi.go mirrors include/uapi/linux/ip_vs.h and a test
// compares the two.
//
// The kernel's answers are mapped to errors that name the service or
// destination (`ipvs: create service tcp 10.0.0.1:80: exists`) and match
// ErrNotFound, ErrExists or ErrNotAvailable with errors.Is; the kernel's
// errno stays reachable too (errors.Is(err, unix.EINVAL)). The package never
// prints.
package ipvs
