package main

import "golang.org/x/sys/unix"

// allowedErrnos are what the module, and generic netlink and the policy
// parser before it, may answer a request with (kmod/daddr_genl.c,
// daddr_table.c, net/netlink/genetlink.c): any other is a finding.
var allowedErrnos = map[unix.Errno]bool{
	unix.EINVAL:       true, // policy and daddr_parse_*: malformed attributes
	unix.ENOENT:       true, // no such entry
	unix.EEXIST:       true, // create-only add of a present key
	unix.ENOSPC:       true, // the table is full (max_entries)
	unix.ESTALE:       true, // a replace id superseded, committed or aborted
	unix.EOPNOTSUPP:   true, // an unknown command, a dump of a doit-only one
	unix.EMSGSIZE:     true, // a reply that does not fit; a message over the socket's limit
	unix.ERANGE:       true, // NLA_POLICY_MAX out of range
	unix.ENOMEM:       true, // allocation failures (fault injection)
	unix.EPERM:        true, // GENL_UNS_ADMIN_PERM
	unix.EAFNOSUPPORT: true, // a family neither AF_INET nor AF_INET6
	unix.ENODEV:       true, // a direct-mode hook that could not be registered
}
