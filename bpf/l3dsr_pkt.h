/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a packet's IP header for l3dsr.bpf.c: the family, the code, the
 * destination and where its L4 checksum is, the way the module finds them
 * (kmod/daddr_ipv4.c, kmod/daddr_ipv6.c). Reads go through
 * bpf_skb_load_bytes, which also works on non-linear (GRO) skbs.
 */
#ifndef L3DSR_PKT_H
#define L3DSR_PKT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "l3dsr.h"

/*
 * At tc ingress skb->data is the Ethernet header (the stack pushes it back
 * for tc, and a VLAN tag is already in skb->vlan_tci by then).
 */
#define L3DSR_NH		ETH_HLEN
#define L3DSR_IP4_CSUM		(L3DSR_NH + offsetof(struct iphdr, check))
#define L3DSR_IP4_DADDR		(L3DSR_NH + offsetof(struct iphdr, daddr))
#define L3DSR_IP6_DADDR		(L3DSR_NH + offsetof(struct ipv6hdr, daddr))

#define L3DSR_IP4_OFFSET	0x1fff	/* fragment offset bits of frag_off */
#define L3DSR_IP6_OFFSET	0xfff8	/* the same in an IPv6 fragment header */

/* Extension headers walked before giving up on the L4 header: the module
 * has no bound, but the verifier needs one; eight is more than real
 * traffic carries.
 */
#define L3DSR_EXTHDR_MAX	8

struct l3dsr_pkt {
	__u8 daddr[16];		/* IPv4 in daddr[0..3], rest zero */
	__u32 l4_off;		/* from skb->data; valid when has_l4 */
	/* Where the IP length says the packet ends: tc ingress runs before
	 * the stack trims a link layer's padding, and bytes past this end
	 * are not the L4 header's.
	 */
	__u32 end;
	__u8 family;		/* L3DSR_BPF_FAMILY_V4 or _V6 */
	__u8 dscp;
	__u8 proto;		/* the L4 protocol */
	__u8 has_l4;		/* the L4 header is here: no later fragment */
	__u8 waypoint;		/* a routing header has segments left */
};

/* Offset of the checksum in an L4 header whose checksum covers the pseudo
 * header, or -1. ICMPv4 has no pseudo header, ICMPv6 has.
 */
static __always_inline int l3dsr_csum_off(__u8 proto, __u8 family)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_DCCP:
		return 6;
	case 58:	/* IPPROTO_ICMPV6, from linux/in6.h */
		return family == L3DSR_BPF_FAMILY_V6 ? 2 : -1;
	}
	return -1;
}

/* 0 when it is IPv4 we understand; the header is not trusted further. */
static __always_inline int l3dsr_parse4(struct __sk_buff *skb,
					struct l3dsr_pkt *p)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, L3DSR_NH, &ip, sizeof(ip)))
		return -1;
	if (ip.version != 4 || ip.ihl < 5)
		return -1;
	p->family = L3DSR_BPF_FAMILY_V4;
	p->dscp = ip.tos >> 2;
	__builtin_memcpy(p->daddr, &ip.daddr, 4);
	p->proto = ip.protocol;
	p->l4_off = L3DSR_NH + ip.ihl * 4;
	p->end = L3DSR_NH + bpf_ntohs(ip.tot_len);
	/* Later fragments start with payload: address and header only. */
	p->has_l4 = !(ip.frag_off & bpf_htons(L3DSR_IP4_OFFSET));
	return 0;
}

/*
 * Like the module's daddr_ipv6_find_l4(). An extension header we cannot
 * read, or too many of them, leaves has_l4 clear: the address is still
 * rewritten, and the stack drops a malformed chain later anyway.
 */
static __always_inline void l3dsr_walk6(struct __sk_buff *skb,
					struct l3dsr_pkt *p, __u8 nexthdr)
{
	__u32 off = L3DSR_NH + sizeof(struct ipv6hdr);
	__u8 h[4];
	int i;

	for (i = 0; i < L3DSR_EXTHDR_MAX; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_FRAGMENT:
		case IPPROTO_AH:
		case IPPROTO_DSTOPTS:
			break;
		default:
			p->proto = nexthdr;
			p->l4_off = off;
			p->has_l4 = 1;
			return;
		}
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			return;
		if (nexthdr == IPPROTO_FRAGMENT) {
			if (((h[2] << 8) | h[3]) & L3DSR_IP6_OFFSET)
				return;
			off += 8;
		} else if (nexthdr == IPPROTO_AH) {
			off += (h[1] + 2) * 4;
		} else {
			/* Then we are a waypoint: the pseudo header holds the
			 * final destination, which is not ours to change.
			 */
			if (nexthdr == IPPROTO_ROUTING && h[3])
				p->waypoint = 1;
			off += (h[1] + 1) * 8;
		}
		nexthdr = h[0];
	}
}

static __always_inline int l3dsr_parse6(struct __sk_buff *skb,
					struct l3dsr_pkt *p)
{
	struct ipv6hdr ip;

	if (bpf_skb_load_bytes(skb, L3DSR_NH, &ip, sizeof(ip)))
		return -1;
	if (ip.version != 6)
		return -1;
	p->family = L3DSR_BPF_FAMILY_V6;
	p->dscp = ((ip.priority << 4) | (ip.flow_lbl[0] >> 4)) >> 2;
	__builtin_memcpy(p->daddr, &ip.daddr, 16);
	/* A zero payload length is a jumbogram's: no end but the buffer's. */
	p->end = ip.payload_len ?
		 L3DSR_NH + sizeof(ip) + bpf_ntohs(ip.payload_len) : skb->len;
	l3dsr_walk6(skb, p, ip.nexthdr);
	return 0;
}

#endif /* L3DSR_PKT_H */
