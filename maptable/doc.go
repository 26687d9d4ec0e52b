// Package maptable is the DSCP→VIP table that xt_DADDR's map mode
// (iptables -t raw -A PREROUTING -j DADDR --map) looks packets up in, one per
// network namespace: its entries, their JSON form, and the Table every
// backend implements. The backend today is the xt_DADDR module, reached over
// its "l3dsr" generic netlink family (Dial); nothing outside this package
// depends on the transport.
//
// The ABI of the module is defined by kmod/uapi/linux/l3dsr.h; abi_test.go
// keeps this package's constants equal to it.
//
// The package never prints: every failure is returned as an error that says
// what was being done, and carries the kernel's extended-ack text when the
// kernel gave one.
package maptable
