// SPDX-License-Identifier: GPL-2.0
/*
 * Map mode's packet path: look the packet up by its DSCP and destination
 * (the local address), give it the entry's VIP and DSCP, count it.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <net/dsfield.h>

#include "daddr_map.h"
#include "daddr_rewrite.h"

/* The VIP of @v, and its DSCP when it sets one. */
static int daddr_map_rewrite(struct sk_buff *skb, u8 family,
			     const struct daddr_value *v)
{
	int err;

	if (family == AF_INET) {
		err = daddr_rewrite_ipv4(skb, v->vip.ip);
		if (err || v->dscp_set == DADDR_DSCP_KEEP)
			return err;
		return daddr_set_dscp_ipv4(skb, v->dscp_set);
	}
	err = daddr_rewrite_ipv6(skb, &v->vip.in6);
	if (err || v->dscp_set == DADDR_DSCP_KEEP)
		return err;
	return daddr_set_dscp_ipv6(skb, v->dscp_set);
}

int daddr_map_skb(struct daddr_net *dn, struct sk_buff *skb, u8 family)
{
	const struct daddr_entry *e;
	union nf_inet_addr dst;
	u8 dscp;
	int err;

	if (family == AF_INET) {
		const struct iphdr *iph = ip_hdr(skb);

		dst = (union nf_inet_addr){ .ip = iph->daddr };
		dscp = ipv4_get_dsfield(iph) >> 2;
	} else {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		dst.in6 = ip6h->daddr;
		dscp = ipv6_get_dsfield(ip6h) >> 2;
	}
	e = daddr_lookup(dn, family, dscp, &dst);
	if (!e) {
		daddr_count_no_entry(dn);
		return 0;
	}
	err = daddr_map_rewrite(skb, family, &e->val);
	if (err) {
		daddr_count_error(dn);
		return err;
	}
	daddr_count_rewritten(e, skb->len);
	return 0;
}
