/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The direct path (L3DSR_MODE_DIRECT): map mode read from a netfilter hook
 * of the module's own instead of an iptables rule.
 *
 * Every change of a namespace's live table goes between
 * daddr_direct_begin() and daddr_direct_end(). In between, before the
 * change, daddr_direct_need() registers (in direct mode) the hooks of the
 * families it may give their first entry, so that a failure leaves the
 * table as it was; end unregisters the hooks of families left without
 * entries.
 */
#ifndef _L3DSR_DADDR_DIRECT_H
#define _L3DSR_DADDR_DIRECT_H

#include <linux/l3dsr.h>

#include "daddr_table.h"

static inline unsigned int daddr_hook_bit(u8 family)
{
	return family == AF_INET ? L3DSR_HOOK_IPV4 : L3DSR_HOOK_IPV6;
}

/* Is @family's direct hook doing the rewrite, so that a --map rule must
 * leave the packet alone? Packet path, lockless.
 */
static inline bool daddr_direct_active(const struct daddr_net *dn, u8 family)
{
	return READ_ONCE(dn->hooks) & daddr_hook_bit(family);
}

void daddr_direct_begin(struct daddr_net *dn);
/* Between begin and end: in direct mode, the hooks of @families
 * (L3DSR_HOOK_* bits). On an error nothing is registered that was not
 * before, and the change must not be made.
 */
int daddr_direct_need(struct net *net, struct daddr_net *dn,
		      unsigned int families);
void daddr_direct_end(struct net *net, struct daddr_net *dn);

int daddr_direct_set_mode(struct net *net, struct daddr_net *dn, u8 mode);

int daddr_direct_module_init(void);
void daddr_direct_module_exit(void);

#endif /* _L3DSR_DADDR_DIRECT_H */
