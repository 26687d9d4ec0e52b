/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One packet through map mode's table, for both ways in: the --map rule
 * and the direct hook rewrite and count alike.
 */
#ifndef _L3DSR_DADDR_MAP_H
#define _L3DSR_DADDR_MAP_H

#include <linux/skbuff.h>

#include "daddr_table.h"

/* 0: rewritten, or no entry (left alone). A negative errno: the packet
 * could not be made writable, and the caller drops it.
 */
int daddr_map_skb(struct daddr_net *dn, struct sk_buff *skb, u8 family);

#endif /* _L3DSR_DADDR_MAP_H */
