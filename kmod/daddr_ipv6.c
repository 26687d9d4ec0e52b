// SPDX-License-Identifier: GPL-2.0
/*
 * IPv6 destination rewrite.
 *
 * The L4 header is found by walking the extension headers from the packet
 * itself, never from skb->transport_header, which in PREROUTING still
 * points just past the fixed header.
 */
#include <linux/ipv6.h>
#include <net/ipv6.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>

#include "compat.h"
#include "daddr_rewrite.h"

struct daddr_l4 {
	unsigned int off;	/* from skb->data */
	u8 proto;
	bool present;		/* false for non-first fragments */
	bool waypoint;		/* a routing header still has segments left */
};

/* Like ipv6_skip_exthdr(), but it also reports a routing header with
 * segments left: then our destination is a waypoint and the L4
 * pseudo-header holds the final destination, not this one.
 */
static int daddr_ipv6_find_l4(const struct sk_buff *skb, struct daddr_l4 *l4)
{
	unsigned int off = skb_network_offset(skb) + sizeof(struct ipv6hdr);
	u8 nexthdr = ipv6_hdr(skb)->nexthdr;

	l4->present = true;
	l4->waypoint = false;
	for (;;) {
		struct ipv6_opt_hdr _hdr;
		const struct ipv6_opt_hdr *hp;

		switch (nexthdr) {
		case NEXTHDR_HOP:
		case NEXTHDR_DEST:
		case NEXTHDR_ROUTING:
		case NEXTHDR_FRAGMENT:
		case NEXTHDR_AUTH:
			break;
		default:
			l4->off = off;
			l4->proto = nexthdr;
			return 0;
		}

		hp = skb_header_pointer(skb, off, sizeof(_hdr), &_hdr);
		if (!hp)
			return -EINVAL;

		if (nexthdr == NEXTHDR_FRAGMENT) {
			struct frag_hdr _fh;
			const struct frag_hdr *fh;

			fh = skb_header_pointer(skb, off, sizeof(_fh), &_fh);
			if (!fh)
				return -EINVAL;
			if (fh->frag_off & htons(IP6_OFFSET)) {
				l4->present = false;
				l4->off = off + sizeof(*fh);
				l4->proto = fh->nexthdr;
				return 0;
			}
			off += sizeof(*fh);
		} else if (nexthdr == NEXTHDR_AUTH) {
			off += ipv6_authlen(hp);
		} else {
			if (nexthdr == NEXTHDR_ROUTING) {
				struct ipv6_rt_hdr _rt;
				const struct ipv6_rt_hdr *rt;

				rt = skb_header_pointer(skb, off, sizeof(_rt),
							&_rt);
				if (!rt)
					return -EINVAL;
				if (rt->segments_left)
					l4->waypoint = true;
			}
			off += ipv6_optlen(hp);
		}
		nexthdr = hp->nexthdr;
	}
}

int daddr_rewrite_ipv6(struct sk_buff *skb, const struct in6_addr *daddr)
{
	unsigned int writable = skb_network_offset(skb) + sizeof(struct ipv6hdr);
	struct ipv6hdr *ip6h = ipv6_hdr(skb);
	struct daddr_l4 l4;
	int csum_off = -1;

	if (ipv6_addr_equal(&ip6h->daddr, daddr))
		return 0;

	if (daddr_ipv6_find_l4(skb, &l4) == 0) {
		if (l4.waypoint)
			return 0;
		if (l4.present)
			csum_off = daddr_l4_csum_offset(l4.proto, true);
		if (csum_off >= 0 &&
		    skb->len < l4.off + csum_off + sizeof(__sum16))
			csum_off = -1;
		if (csum_off >= 0)
			writable = l4.off + csum_off + sizeof(__sum16);
	}
	/* A malformed extension header chain gets the address only: the
	 * stack drops it later, and there is no L4 checksum we could trust.
	 */

	if (skb_ensure_writable(skb, writable))
		return -ENOMEM;

	ip6h = ipv6_hdr(skb);
	if (csum_off >= 0)
		daddr_l4_csum_replace16(skb, l4.proto,
					(__sum16 *)(skb->data + l4.off + csum_off),
					ip6h->daddr.s6_addr32, daddr->s6_addr32);
	daddr_csum_complete_replace16(skb, ip6h->daddr.s6_addr32,
				      daddr->s6_addr32);
	ip6h->daddr = *daddr;
	return 0;
}

/* The traffic class straddles the first 32-bit word's version and flow
 * label; under CHECKSUM_COMPLETE that whole word is accounted for.
 */
int daddr_set_dscp_ipv6(struct sk_buff *skb, u8 dscp)
{
	struct ipv6hdr *ip6h = ipv6_hdr(skb);
	__be32 from;

	if (ipv6_get_dsfield(ip6h) >> 2 == dscp)
		return 0;
	if (skb_ensure_writable(skb, skb_network_offset(skb) +
				sizeof(struct ipv6hdr)))
		return -ENOMEM;
	ip6h = ipv6_hdr(skb);
	from = *(__be32 *)ip6h;
	ipv6_change_dsfield(ip6h, INET_ECN_MASK, dscp << 2);
	daddr_csum_complete_replace4(skb, from, *(__be32 *)ip6h);
	return 0;
}
