/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The destination rewrite shared by every DADDR revision. Callers hold an
 * skb whose data starts at the network header, as in PREROUTING and INPUT.
 */
#ifndef _L3DSR_DADDR_REWRITE_H
#define _L3DSR_DADDR_REWRITE_H

#include <linux/skbuff.h>
#include <linux/in6.h>

/* Return 0 when the packet now carries the new destination, or was left
 * alone on purpose; a negative errno when it could not be made writable
 * (the caller drops it: half a rewrite would leave a bad checksum).
 */
int daddr_rewrite_ipv4(struct sk_buff *skb, __be32 daddr);
int daddr_rewrite_ipv6(struct sk_buff *skb, const struct in6_addr *daddr);

/* Give the packet DSCP @dscp (0..63), keeping its ECN bits: an entry's
 * DSCP_SET, so that a DSR code does not leave with the replies of a server
 * that reflects the TOS it was sent. 0 or -ENOMEM, as above.
 */
int daddr_set_dscp_ipv4(struct sk_buff *skb, u8 dscp);
int daddr_set_dscp_ipv6(struct sk_buff *skb, u8 dscp);

/* Offset of the checksum field inside an L4 header whose checksum covers a
 * pseudo-header holding the destination address, or -1 for protocols with
 * nothing to fix (ICMPv4, SCTP's CRC32c, ESP, GRE...).
 */
int daddr_l4_csum_offset(u8 proto, bool ipv6);

/* The L4 checksum at @check, in a header that lies inside the writable part
 * of @skb, covers @from in its pseudo-header: make it cover @to instead.
 * Handles the zero checksum rule of UDP and UDP-Lite.
 */
void daddr_l4_csum_replace4(struct sk_buff *skb, u8 proto, __sum16 *check,
			    __be32 from, __be32 to);
void daddr_l4_csum_replace16(struct sk_buff *skb, u8 proto, __sum16 *check,
			     const __be32 *from, const __be32 *to);

/* The IPv6 header has no checksum of its own: under CHECKSUM_COMPLETE the
 * changed address bytes must be added to skb->csum.
 */
void daddr_csum_complete_replace16(struct sk_buff *skb, const __be32 *from,
				   const __be32 *to);
void daddr_csum_complete_replace4(struct sk_buff *skb, __be32 from, __be32 to);

#endif /* _L3DSR_DADDR_REWRITE_H */
