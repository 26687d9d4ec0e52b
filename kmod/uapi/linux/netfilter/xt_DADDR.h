/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xt_DADDR: the kernel ABI of the DADDR xtables target.
 *
 * This header is the single source of that ABI: the kernel module, the
 * iptables extension and the Go packages all take their definitions from it.
 *
 * Revision 0 is wire-compatible with Yahoo's iptables-daddr: the target info
 * is one union nf_inet_addr holding the new destination (the VIP). For
 * NFPROTO_IPV4 only .ip is used and the other 12 bytes must be zero.
 */
#ifndef _UAPI_XT_DADDR_H
#define _UAPI_XT_DADDR_H

#include <linux/types.h>
#include <linux/netfilter.h>

#define XT_DADDR_NAME "DADDR"

struct xt_daddr_tginfo {
	union nf_inet_addr daddr;
};

/* Revision 1 adds map mode: with XT_DADDR_F_MAP the VIP comes from the
 * namespace's table, managed over the "l3dsr" generic netlink family
 * (linux/l3dsr.h), and daddr must be all zero. With flags 0, daddr is the
 * VIP exactly as in revision 0.
 *
 * Revision 1 must be a superset of revision 0: libxtables parses with the
 * highest revision the kernel supports, so once the module offers
 * revision 1, `-j DADDR --set-daddr VIP` is parsed (and saved rules are
 * restored) by revision 1 too.
 */
enum {
	XT_DADDR_F_MAP = 1 << 0,
};

#define XT_DADDR_F_ALL	XT_DADDR_F_MAP

struct xt_daddr_tginfo_v1 {
	union nf_inet_addr daddr;	/* flags 0: the VIP; F_MAP: zero */
	__u32 flags;
};

#endif /* _UAPI_XT_DADDR_H */
