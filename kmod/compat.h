/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference lives here, so the logic files read as
 * if written for one kernel. Debian's 6.1 and 6.12 need nothing; the shims
 * below are for the older enterprise kernels we mean to add (RHEL 8 4.18,
 * RHEL 9 5.14), where distributions backport freely: prefer feature tests
 * over version tests where a macro exists to test.
 */
#ifndef _L3DSR_COMPAT_H
#define _L3DSR_COMPAT_H

#include <linux/version.h>
#include <linux/skbuff.h>

/* skb_make_writable() became skb_ensure_writable() in 5.2 and the return
 * convention flipped from "true on success" to "0 on success".
 */
#if KERNEL_VERSION(5, 2, 0) > LINUX_VERSION_CODE && !defined(RHEL_RELEASE_CODE)
#include <linux/netfilter.h>
static inline int l3dsr_skb_ensure_writable(struct sk_buff *skb, unsigned int len)
{
	return skb_make_writable(skb, len) ? 0 : -ENOMEM;
}

#define skb_ensure_writable l3dsr_skb_ensure_writable
#endif

/* Reporting which attribute is missing arrived in 6.0; before it, the
 * extack message alone has to say it.
 */
#include <linux/netlink.h>
#ifndef NL_SET_ERR_ATTR_MISS
#define NL_SET_ERR_ATTR_MISS(extack, nest, type) do { } while (0)
#endif

/* Formatted extack messages arrived in 6.2; before, @plain says the same
 * without the value.
 */
#ifdef NL_SET_ERR_MSG_ATTR_FMT
#define DADDR_SET_ERR_MSG_FMT_ATTR(extack, attr, fmt, plain, args...) \
	NL_SET_ERR_MSG_ATTR_FMT(extack, attr, fmt, ##args)
#else
#define DADDR_SET_ERR_MSG_FMT_ATTR(extack, attr, fmt, plain, args...) \
	NL_SET_ERR_MSG_ATTR(extack, attr, plain)
#endif

#endif /* _L3DSR_COMPAT_H */
