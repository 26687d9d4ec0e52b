// SPDX-License-Identifier: GPL-2.0
/*
 * IPv4 destination rewrite.
 *
 * Only the first fragment carries the L4 header; the L4 checksum covers the
 * whole datagram, but the pseudo-header change is a fixed delta, so fixing
 * it in the first fragment is enough. Later fragments get the new address
 * and a new header checksum and nothing else: their first bytes are
 * payload, not a header to fix.
 */
#include <linux/ip.h>
#include <net/ip.h>
#include <net/checksum.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>

#include "compat.h"
#include "daddr_rewrite.h"

int daddr_rewrite_ipv4(struct sk_buff *skb, __be32 daddr)
{
	unsigned int nhoff = skb_network_offset(skb);
	unsigned int thoff = nhoff + ip_hdrlen(skb);
	unsigned int writable = thoff;
	struct iphdr *iph = ip_hdr(skb);
	u8 proto = iph->protocol;
	int csum_off = -1;
	__be32 old;

	if (iph->daddr == daddr)
		return 0;

	if (!(iph->frag_off & htons(IP_OFFSET))) {
		csum_off = daddr_l4_csum_offset(proto, false);
		/* Too short to hold its own checksum: the L4 layer will drop
		 * it anyway, so do not touch bytes that are not there.
		 */
		if (csum_off >= 0 && skb->len < thoff + csum_off + sizeof(__sum16))
			csum_off = -1;
		if (csum_off >= 0)
			writable = thoff + csum_off + sizeof(__sum16);
	}

	/* Only the headers: a big GRO packet is not linearised for this. */
	if (skb_ensure_writable(skb, writable))
		return -ENOMEM;

	iph = ip_hdr(skb);
	old = iph->daddr;
	if (csum_off >= 0)
		daddr_l4_csum_replace4(skb, proto,
				       (__sum16 *)(skb->data + thoff + csum_off),
				       old, daddr);
	csum_replace4(&iph->check, old, daddr);
	iph->daddr = daddr;
	return 0;
}

int daddr_set_dscp_ipv4(struct sk_buff *skb, u8 dscp)
{
	if (ipv4_get_dsfield(ip_hdr(skb)) >> 2 == dscp)
		return 0;
	if (skb_ensure_writable(skb, skb_network_offset(skb) +
				sizeof(struct iphdr)))
		return -ENOMEM;
	/* The header checksum moves by the opposite amount, so the header's
	 * share of a CHECKSUM_COMPLETE skb->csum stays put.
	 */
	ipv4_change_dsfield(ip_hdr(skb), INET_ECN_MASK, dscp << 2);
	return 0;
}
