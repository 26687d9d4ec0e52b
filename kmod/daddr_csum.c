// SPDX-License-Identifier: GPL-2.0
/*
 * L4 checksum fix-ups for a changed destination address.
 *
 * The invariants kept for every skb state:
 *  - CHECKSUM_NONE / _UNNECESSARY: the field holds the full checksum.
 *  - CHECKSUM_PARTIAL: the field holds the pseudo-header seed that the
 *    device (or skb_checksum_help) folds the payload into; the payload is
 *    not summed yet, so only the seed moves.
 *  - CHECKSUM_COMPLETE: skb->csum is the sum of every byte from skb->data,
 *    so each byte we write must be accounted for in it.
 */
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/dccp.h>
#include <linux/icmpv6.h>
#include <net/checksum.h>

#include "daddr_rewrite.h"

int daddr_l4_csum_offset(u8 proto, bool ipv6)
{
	switch (proto) {
	case IPPROTO_TCP:
		return offsetof(struct tcphdr, check);
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		return offsetof(struct udphdr, check);
	case IPPROTO_DCCP:
		return offsetof(struct dccp_hdr, dccph_checksum);
	case IPPROTO_ICMPV6:
		/* ICMPv4 has no pseudo-header; ICMPv6 does. */
		return ipv6 ? offsetof(struct icmp6hdr, icmp6_cksum) : -1;
	}
	return -1;
}

/* A UDP sender may leave the checksum out (zero); filling one in would
 * turn a packet the receiver accepts into one it may judge differently.
 * Under CHECKSUM_PARTIAL the field is a seed, not a checksum, so zero
 * means nothing there.
 */
static bool daddr_csum_absent(const struct sk_buff *skb, u8 proto,
			      __sum16 check)
{
	return proto == IPPROTO_UDP && !check &&
	       skb->ip_summed != CHECKSUM_PARTIAL;
}

/* UDP and UDP-Lite send a computed zero as all ones: zero on the wire
 * means "no checksum" (UDP) or is invalid (UDP-Lite, RFC 3828).
 */
static void daddr_csum_mangle_zero(const struct sk_buff *skb, u8 proto,
				   __sum16 *check)
{
	if (!*check && skb->ip_summed != CHECKSUM_PARTIAL &&
	    (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE))
		*check = CSUM_MANGLED_0;
}

void daddr_l4_csum_replace4(struct sk_buff *skb, u8 proto, __sum16 *check,
			    __be32 from, __be32 to)
{
	if (daddr_csum_absent(skb, proto, *check))
		return;
	/* The IPv4 header checksum moves by the opposite amount, so the
	 * header's share of skb->csum stays put; this helper accounts for
	 * the L4 field alone, which is what CHECKSUM_COMPLETE needs here.
	 */
	inet_proto_csum_replace4(check, skb, from, to, true);
	daddr_csum_mangle_zero(skb, proto, check);
}

void daddr_l4_csum_replace16(struct sk_buff *skb, u8 proto, __sum16 *check,
			     const __be32 *from, const __be32 *to)
{
	__be32 diff[] = {
		~from[0], ~from[1], ~from[2], ~from[3],
		to[0], to[1], to[2], to[3],
	};
	__sum16 old = *check, new;

	if (daddr_csum_absent(skb, proto, old))
		return;

	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		*check = ~csum_fold(csum_partial(diff, sizeof(diff),
						 csum_unfold(old)));
		return;
	}

	/* Not inet_proto_csum_replace16(): whether it adjusts skb->csum for
	 * CHECKSUM_COMPLETE differs between kernel versions, and IPv6 has no
	 * header checksum to cancel the address change. We account for every
	 * byte ourselves, here and in daddr_csum_complete_replace16().
	 */
	*check = csum_fold(csum_partial(diff, sizeof(diff), ~csum_unfold(old)));
	daddr_csum_mangle_zero(skb, proto, check);
	new = *check;
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->csum = csum_add(csum_sub(skb->csum, (__force __wsum)old),
				     (__force __wsum)new);
}

void daddr_csum_complete_replace16(struct sk_buff *skb, const __be32 *from,
				   const __be32 *to)
{
	__be32 diff[] = {
		~from[0], ~from[1], ~from[2], ~from[3],
		to[0], to[1], to[2], to[3],
	};

	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->csum = csum_partial(diff, sizeof(diff), skb->csum);
}

void daddr_csum_complete_replace4(struct sk_buff *skb, __be32 from, __be32 to)
{
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->csum = csum_add(csum_sub(skb->csum, (__force __wsum)from),
				     (__force __wsum)to);
}
