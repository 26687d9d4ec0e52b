// SPDX-License-Identifier: GPL-2.0
/*
 * daddr_selftest: checks the DADDR destination rewrite against every skb
 * checksum state, which a test on the wire cannot all produce (veth never
 * hands over CHECKSUM_COMPLETE).
 *
 * At load time, for each case, it builds two packets from the same recipe:
 * the input, addressed to the RIP with a valid checksum, and the expected
 * result, addressed to the VIP with a checksum computed afresh. It puts the
 * input in an skb in the state under test, as PREROUTING would see it (data
 * at the network header, transport header just past the fixed IP header),
 * calls daddr_rewrite_ipv4() or daddr_rewrite_ipv6() and checks:
 *
 *  - every byte equals the expected packet, except the checksum fields;
 *  - the IPv4 header checksum verifies;
 *  - the L4 checksum verifies over pseudo-header and covered bytes (whole
 *    datagrams), equals the fresh one (first fragments), or is untouched
 *    (ICMPv4, a zero UDP checksum, later fragments hold no L4 header);
 *  - CHECKSUM_PARTIAL: the seed is the new pseudo-header sum, and after
 *    skb_checksum_help() the checksum verifies;
 *  - CHECKSUM_COMPLETE: skb->csum still equals the sum of every byte from
 *    the network header, and the L4 check the stack would do with it (the
 *    network and extension headers pulled off, pseudo-header added)
 *    passes;
 *  - for paged skbs, that only headers were pulled (no linearisation), and
 *    for cloned ones, that the clone still reads the original bytes.
 *
 * The reference checksums use csum_partial() and the pseudo-header helpers,
 * never the incremental helpers the rewrite uses.
 *
 * DSCP_SET cases ("dscp-set-..."): the rewrite followed by
 * daddr_set_dscp_ipv4() or daddr_set_dscp_ipv6(), on a packet with ECN
 * bits set: the expected packet has the new DSCP and the same ECN bits, and
 * the same checks apply (IPv4 header checksum, skb->csum under
 * CHECKSUM_COMPLETE, a clone left alone).
 *
 * Table cases ("table-..."): daddr_selftest_table.c.
 *
 * One line per case: "daddr_selftest: PASS name" or "... FAIL name: why";
 * init fails with -EINVAL when any case failed, so insmod reports it.
 */
#define pr_fmt(fmt) "daddr_selftest: " fmt

#include <linux/module.h>
#include <linux/skbuff.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <net/checksum.h>
#include <net/ip6_checksum.h>
#include <net/ip.h>
#include <net/ipv6.h>

#include "../daddr_rewrite.h"
#include "daddr_selftest.h"

/* Flags of a case: IPv6 extension headers, in RFC 8200 order, or IPv4
 * options; and the way the packet is cut.
 */
#define X_HOP	BIT(0)
#define X_DST	BIT(1)
#define X_RT	BIT(2)	/* routing header, type 0, segments left 0 */
#define X_FRAG	BIT(3)	/* fragment header (atomic unless F_FIRST/LATER) */
#define X_DST2	BIT(4)	/* destination options after the fragment header */
#define X_OPT	BIT(5)	/* IPv4: 8 bytes of options (IHL 7) */
#define X_4	(X_HOP | X_DST | X_RT | X_FRAG)
#define X_ALL	(X_4 | X_DST2)

enum st_frag { F_NONE, F_FIRST, F_LATER };

enum st_variant {
	V_PLAIN,
	V_ODD,		/* odd L4 length */
	V_ZERO,		/* UDP sent without checksum (0): stays 0 */
	V_RESULT0,	/* the checksum for the VIP computes to 0: sent as 0xffff */
	V_COV8,		/* UDP-Lite coverage 8 (header only) */
	V_COV20,	/* UDP-Lite coverage 20 < length */
	V_CSCOV1,	/* DCCP CsCov 1: header only */
	V_CSCOV3,	/* DCCP CsCov 3: header + 8 bytes of data */
};

enum st_state { S_NONE, S_UNNECESSARY, S_PARTIAL, S_COMPLETE, S_NR };

enum st_layout {
	L_LINEAR,
	L_PAGED,	/* L4 header start linear, the rest in a page fragment */
	L_HDRONLY,	/* only the fixed IP header linear */
	L_CLONED,	/* a clone (say, of a packet socket) shares the data */
	L_NR,
};

static const char *const st_state_name[S_NR] = {
	"none", "unnecessary", "partial", "complete",
};

static const char *const st_layout_name[L_NR] = {
	"", "-paged", "-hdronly", "-cloned",
};

struct st_case {
	const char *name;
	u8 fam;
	u8 proto;
	u8 variant;
	u8 frag;
	u8 flags;
	u8 layouts;	/* extra layouts, BIT(L_*) */
};

#define EXTRA (BIT(L_PAGED) | BIT(L_HDRONLY) | BIT(L_CLONED))

static const struct st_case st_cases[] = {
	{ "v4-tcp", 4, IPPROTO_TCP, V_PLAIN, F_NONE, 0, EXTRA },
	{ "v4-udp", 4, IPPROTO_UDP, V_PLAIN, F_NONE, 0, EXTRA },
	{ "v4-udp-odd-length", 4, IPPROTO_UDP, V_ODD, F_NONE, 0, 0 },
	{ "v4-udp-zero-stays-zero", 4, IPPROTO_UDP, V_ZERO, F_NONE, 0, 0 },
	{ "v4-udp-result0-is-ffff", 4, IPPROTO_UDP, V_RESULT0, F_NONE, 0, 0 },
	{ "v4-udplite-full", 4, IPPROTO_UDPLITE, V_PLAIN, F_NONE, 0, 0 },
	{ "v4-udplite-cov8", 4, IPPROTO_UDPLITE, V_COV8, F_NONE, 0, 0 },
	{ "v4-udplite-cov20", 4, IPPROTO_UDPLITE, V_COV20, F_NONE, 0, 0 },
	{ "v4-udplite-result0-is-ffff", 4, IPPROTO_UDPLITE, V_RESULT0, F_NONE, 0, 0 },
	{ "v4-dccp-cscov0", 4, IPPROTO_DCCP, V_PLAIN, F_NONE, 0, 0 },
	{ "v4-dccp-cscov1", 4, IPPROTO_DCCP, V_CSCOV1, F_NONE, 0, 0 },
	{ "v4-dccp-cscov3", 4, IPPROTO_DCCP, V_CSCOV3, F_NONE, 0, 0 },
	{ "v4-icmp-untouched", 4, IPPROTO_ICMP, V_PLAIN, F_NONE, 0, 0 },
	{ "v4-options-udp", 4, IPPROTO_UDP, V_PLAIN, F_NONE, X_OPT, 0 },
	{ "v4-options-tcp", 4, IPPROTO_TCP, V_PLAIN, F_NONE, X_OPT, EXTRA },
	{ "v4-frag-first-udp", 4, IPPROTO_UDP, V_PLAIN, F_FIRST, 0, 0 },
	{ "v4-frag-later-udp", 4, IPPROTO_UDP, V_PLAIN, F_LATER, 0, 0 },
	{ "v4-frag-first-tcp", 4, IPPROTO_TCP, V_PLAIN, F_FIRST, 0, 0 },
	{ "v4-frag-later-tcp", 4, IPPROTO_TCP, V_PLAIN, F_LATER, 0, 0 },
	{ "v4-frag-first-udplite-cov20", 4, IPPROTO_UDPLITE, V_COV20, F_FIRST, 0, 0 },
	{ "v4-frag-later-udplite", 4, IPPROTO_UDPLITE, V_PLAIN, F_LATER, 0, 0 },
	{ "v4-frag-first-dccp", 4, IPPROTO_DCCP, V_PLAIN, F_FIRST, 0, 0 },
	{ "v4-frag-later-dccp", 4, IPPROTO_DCCP, V_PLAIN, F_LATER, 0, 0 },
	{ "v4-frag-first-icmp", 4, IPPROTO_ICMP, V_PLAIN, F_FIRST, 0, 0 },

	{ "v6-tcp", 6, IPPROTO_TCP, V_PLAIN, F_NONE, 0, EXTRA },
	{ "v6-udp", 6, IPPROTO_UDP, V_PLAIN, F_NONE, 0, EXTRA },
	{ "v6-udp-odd-length", 6, IPPROTO_UDP, V_ODD, F_NONE, 0, 0 },
	{ "v6-udp-zero-stays-zero", 6, IPPROTO_UDP, V_ZERO, F_NONE, 0, 0 },
	{ "v6-udp-result0-is-ffff", 6, IPPROTO_UDP, V_RESULT0, F_NONE, 0, 0 },
	{ "v6-udplite-full", 6, IPPROTO_UDPLITE, V_PLAIN, F_NONE, 0, 0 },
	{ "v6-udplite-cov20", 6, IPPROTO_UDPLITE, V_COV20, F_NONE, 0, 0 },
	{ "v6-udplite-result0-is-ffff", 6, IPPROTO_UDPLITE, V_RESULT0, F_NONE, 0, 0 },
	{ "v6-dccp-cscov0", 6, IPPROTO_DCCP, V_PLAIN, F_NONE, 0, 0 },
	{ "v6-dccp-cscov3", 6, IPPROTO_DCCP, V_CSCOV3, F_NONE, 0, 0 },
	{ "v6-icmpv6", 6, IPPROTO_ICMPV6, V_PLAIN, F_NONE, 0, 0 },
	{ "v6-hop-udp", 6, IPPROTO_UDP, V_PLAIN, F_NONE, X_HOP, 0 },
	{ "v6-dst-udp", 6, IPPROTO_UDP, V_PLAIN, F_NONE, X_DST, 0 },
	{ "v6-rt-udp", 6, IPPROTO_UDP, V_PLAIN, F_NONE, X_RT, 0 },
	{ "v6-frag-udp", 6, IPPROTO_UDP, V_PLAIN, F_NONE, X_FRAG, 0 },
	{ "v6-hop-dst-rt-frag-dst-tcp", 6, IPPROTO_TCP, V_PLAIN, F_NONE, X_ALL, EXTRA },
	{ "v6-hop-dst-rt-frag-dst-udp", 6, IPPROTO_UDP, V_PLAIN, F_NONE, X_ALL, EXTRA },
	{ "v6-hop-dst-rt-frag-dst-udp-result0-is-ffff", 6, IPPROTO_UDP, V_RESULT0,
	  F_NONE, X_ALL, 0 },
	{ "v6-hop-dst-rt-frag-dst-udplite-cov20", 6, IPPROTO_UDPLITE, V_COV20, F_NONE, X_ALL, 0 },
	{ "v6-hop-dst-rt-frag-dst-dccp-cscov3", 6, IPPROTO_DCCP, V_CSCOV3, F_NONE, X_ALL, 0 },
	{ "v6-hop-dst-rt-frag-dst-icmpv6", 6, IPPROTO_ICMPV6, V_PLAIN, F_NONE, X_ALL, EXTRA },
	{ "v6-frag-first-udp", 6, IPPROTO_UDP, V_PLAIN, F_FIRST, X_FRAG, 0 },
	{ "v6-frag-later-udp", 6, IPPROTO_UDP, V_PLAIN, F_LATER, X_FRAG, 0 },
	{ "v6-hop-dst-rt-frag-first-tcp", 6, IPPROTO_TCP, V_PLAIN, F_FIRST, X_4, 0 },
	{ "v6-hop-dst-rt-frag-later-tcp", 6, IPPROTO_TCP, V_PLAIN, F_LATER, X_4, 0 },
	{ "v6-frag-first-icmpv6", 6, IPPROTO_ICMPV6, V_PLAIN, F_FIRST, X_FRAG, 0 },
	{ "v6-frag-later-icmpv6", 6, IPPROTO_ICMPV6, V_PLAIN, F_LATER, X_FRAG, 0 },
	{ "v6-frag-first-dccp", 6, IPPROTO_DCCP, V_PLAIN, F_FIRST, X_FRAG, 0 },
	{ "v6-frag-later-udplite", 6, IPPROTO_UDPLITE, V_PLAIN, F_LATER, X_FRAG, 0 },
};

#define ST_PAYLOAD	112	/* L4 payload bytes (V_ODD: one more) */
#define ST_SPLIT	64	/* L4 bytes in a first fragment */
#define ST_MAX		512
#define ST_HEADROOM	128

struct st_pkt {
	u8 buf[ST_MAX];
	unsigned int len;	/* bytes of this packet */
	unsigned int nhlen;	/* fixed IP header (+ IPv4 options) */
	unsigned int l4off;	/* L4 header (first fragment) or fragment data */
	int csum_at;		/* L4 checksum field, -1 when not in this packet */
	unsigned int seglen;	/* whole L4 segment, for the pseudo-header */
	u8 seg[ST_MAX];		/* the whole L4 segment */
};

static const __be32 st_saddr4 = cpu_to_be32(0x0a0b0001);	/* 10.11.0.1 */
static const __be32 st_rip4 = cpu_to_be32(0x0a0b0002);		/* 10.11.0.2 */
static const __be32 st_vip4 = cpu_to_be32(0xc000024d);		/* 192.0.2.77 */
static const struct in6_addr st_saddr6 = {{{ 0xfd, 0, 0, 0x11, [15] = 1 }}};
static const struct in6_addr st_rip6 = {{{ 0xfd, 0, 0, 0x11, [15] = 2 }}};
static const struct in6_addr st_vip6 = {{{ 0x20, 0x01, 0x0d, 0xb8, 0, 0x77,
					   [15] = 0x0a }}};

/* Big-endian fields, by hand: <asm/unaligned.h> moved in 6.12. */
static void st_put16(u16 v, u8 *p)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void st_put32(u32 v, u8 *p)
{
	st_put16(v >> 16, p);
	st_put16(v, p + 2);
}

static u16 st_get16(const u8 *p)
{
	return (p[0] << 8) | p[1];
}

static bool st_is_udp(u8 proto)
{
	return proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE;
}

/* Offset of the L4 checksum field, written out here from the RFCs rather
 * than taken from the code under test.
 */
static int st_csum_field(u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_DCCP:
		return 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 2;
	}
	return -1;
}

/* Bytes of the segment the checksum covers (RFC 3828 3.1, RFC 4340 9.2). */
static unsigned int st_coverage(u8 proto, const u8 *seg, unsigned int len)
{
	unsigned int cov;

	if (proto == IPPROTO_UDPLITE) {
		cov = (seg[4] << 8) | seg[5];
		return cov ? cov : len;
	}
	if (proto == IPPROTO_DCCP) {
		cov = seg[5] & 15;
		return cov ? min(len, seg[4] * 4 + (cov - 1) * 4) : len;
	}
	return len;
}

/* Fresh checksum of a segment whose checksum field is zero; or, over a
 * segment with its checksum in place, 0 when that checksum is valid.
 */
static __sum16 st_l4_csum(u8 fam, u8 proto, const void *daddr,
			  const u8 *seg, unsigned int len)
{
	__wsum sum = csum_partial(seg, st_coverage(proto, seg, len), 0);

	if (proto == IPPROTO_ICMP)
		return csum_fold(sum);
	if (fam == 4)
		return csum_tcpudp_magic(st_saddr4, *(const __be32 *)daddr, len,
					 proto, sum);
	return csum_ipv6_magic(&st_saddr6, daddr, len, proto, sum);
}

/* The L4 segment: header + payload, checksum field zero. */
static unsigned int st_l4_build(const struct st_case *c, u8 *seg)
{
	unsigned int hl, n = ST_PAYLOAD + (c->variant == V_ODD), i, len;

	memset(seg, 0, ST_MAX);
	switch (c->proto) {
	case IPPROTO_TCP:
		hl = 20;
		st_put16(40001, seg);
		st_put16(19999, seg + 2);
		st_put32(0x11223344, seg + 4);
		st_put32(0x55667788, seg + 8);
		seg[12] = 5 << 4;		/* data offset */
		seg[13] = 0x18;			/* ACK PSH */
		st_put16(8192, seg + 14);
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		hl = 8;
		st_put16(40002, seg);
		st_put16(19999, seg + 2);
		break;
	case IPPROTO_DCCP:
		hl = 16;			/* generic header, X = 1 */
		st_put16(40003, seg);
		st_put16(19999, seg + 2);
		seg[4] = hl / 4;		/* data offset */
		seg[5] = c->variant == V_CSCOV1 ? 1 :
			 c->variant == V_CSCOV3 ? 3 : 0;
		seg[8] = (2 << 1) | 1;		/* DCCP-Data, X */
		st_put16(0x0102, seg + 10);
		st_put32(0x03040506, seg + 12);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		hl = 8;
		seg[0] = c->proto == IPPROTO_ICMP ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
		st_put16(0x4242, seg + 4);
		st_put16(7, seg + 6);
		break;
	default:
		return 0;
	}
	for (i = 0; i < n; i++)
		seg[hl + i] = (u8)(i * 37 + 11);
	len = hl + n;
	if (c->proto == IPPROTO_UDP)
		st_put16(len, seg + 4);
	else if (c->proto == IPPROTO_UDPLITE)
		st_put16(c->variant == V_COV8 ? 8 :
				   c->variant == V_COV20 ? 20 : 0, seg + 4);
	return len;
}

/* Fill in the checksum of @seg for destination @daddr. */
static void st_l4_sign(const struct st_case *c, const void *daddr, u8 *seg,
		       unsigned int len)
{
	int at = st_csum_field(c->proto);
	__sum16 check;

	if (c->variant == V_ZERO)
		return;
	check = st_l4_csum(c->fam, c->proto, daddr, seg, len);
	if (!check && st_is_udp(c->proto))
		check = CSUM_MANGLED_0;
	memcpy(seg + at, &check, sizeof(check));
}

/* V_RESULT0: choose the last two payload bytes so that, addressed to the
 * VIP, the one's complement sum is all ones and the checksum computes to 0.
 */
static void st_l4_result0(const struct st_case *c, u8 *seg, unsigned int len)
{
	const void *vip = c->fam == 4 ? (const void *)&st_vip4 : &st_vip6;
	u16 sum, w;

	memset(seg + len - 2, 0, 2);
	sum = ~(__force u16)st_l4_csum(c->fam, c->proto, vip, seg, len);
	w = 0xffff - sum;
	memcpy(seg + len - 2, &w, sizeof(w));
}

static void st_opt_hdr(u8 *p, u8 nh, bool rt)
{
	memset(p, 0, 8);
	p[0] = nh;
	if (!rt) {
		p[2] = IPV6_TLV_PADN;
		p[3] = 4;
	}
}

/* Build the packet of case @c with destination @daddr into @p. */
static int st_build(const struct st_case *c, const void *daddr,
		    struct st_pkt *p)
{
	unsigned int from = 0, to, hl, n;
	u8 *b = p->buf;

	memset(p, 0, sizeof(*p));
	p->seglen = st_l4_build(c, p->seg);
	if (!p->seglen)
		return -EINVAL;
	if (c->variant == V_RESULT0)
		st_l4_result0(c, p->seg, p->seglen);
	st_l4_sign(c, daddr, p->seg, p->seglen);

	to = p->seglen;
	if (c->frag == F_FIRST)
		to = ST_SPLIT;
	else if (c->frag == F_LATER)
		from = ST_SPLIT;

	if (c->fam == 4) {
		struct iphdr *iph = (struct iphdr *)b;

		hl = c->flags & X_OPT ? 28 : 20;
		iph->version = 4;
		iph->ihl = hl / 4;
		iph->tos = 10 << 2;
		iph->tot_len = htons(hl + to - from);
		iph->id = htons(0x1234);
		if (c->frag == F_FIRST)
			iph->frag_off = htons(IP_MF);
		else if (c->frag == F_LATER)
			iph->frag_off = htons(ST_SPLIT / 8);
		iph->ttl = 64;
		iph->protocol = c->proto;
		iph->saddr = st_saddr4;
		iph->daddr = *(const __be32 *)daddr;
		if (c->flags & X_OPT)
			memset(b + 20, IPOPT_NOOP, 7);	/* then IPOPT_END */
		iph->check = ip_fast_csum(iph, iph->ihl);
		p->nhlen = hl;
	} else {
		struct ipv6hdr *ip6h = (struct ipv6hdr *)b;
		static const u8 order[] = { X_HOP, X_DST, X_RT, X_FRAG, X_DST2 };
		static const u8 nhval[] = { NEXTHDR_HOP, NEXTHDR_DEST,
					    NEXTHDR_ROUTING, NEXTHDR_FRAGMENT,
					    NEXTHDR_DEST };
		u8 *nhp = &ip6h->nexthdr;
		unsigned int i;

		ip6_flow_hdr(ip6h, 12 << 2, htonl(0x12345));
		ip6h->hop_limit = 64;
		ip6h->saddr = st_saddr6;
		ip6h->daddr = *(const struct in6_addr *)daddr;
		hl = sizeof(*ip6h);
		p->nhlen = hl;
		for (i = 0; i < ARRAY_SIZE(order); i++) {
			u8 *e = b + hl;

			if (!(c->flags & order[i]))
				continue;
			*nhp = nhval[i];
			if (order[i] == X_FRAG) {
				struct frag_hdr *fh = (struct frag_hdr *)e;

				memset(fh, 0, sizeof(*fh));
				fh->frag_off = htons(from | (c->frag == F_FIRST ? IP6_MF : 0));
				fh->identification = htonl(0xabc01234);
				nhp = &fh->nexthdr;
			} else {
				st_opt_hdr(e, 0, order[i] == X_RT);
				nhp = e;
			}
			hl += 8;
		}
		*nhp = c->proto;
		ip6h->payload_len = htons(hl - sizeof(*ip6h) + to - from);
	}
	n = to - from;
	if (hl + n > ST_MAX)
		return -EINVAL;
	memcpy(b + hl, p->seg + from, n);
	p->l4off = hl;
	p->len = hl + n;
	p->csum_at = c->frag == F_LATER ? -1 : (int)hl + st_csum_field(c->proto);
	return 0;
}

static struct sk_buff *st_skb(const struct st_case *c, const struct st_pkt *p,
			      enum st_layout layout)
{
	unsigned int lin = p->len;
	struct sk_buff *skb;

	if (layout == L_PAGED)
		lin = p->l4off + 8;
	else if (layout == L_HDRONLY)
		lin = c->fam == 4 ? 20 : sizeof(struct ipv6hdr);
	skb = alloc_skb(ST_HEADROOM + lin, GFP_KERNEL);
	if (!skb)
		return NULL;
	skb_reserve(skb, ST_HEADROOM);
	skb_put_data(skb, p->buf, lin);
	if (lin < p->len) {
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page) {
			kfree_skb(skb);
			return NULL;
		}
		memcpy(page_address(page), p->buf + lin, p->len - lin);
		skb_add_rx_frag(skb, 0, page, 0, p->len - lin, PAGE_SIZE);
	}
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	/* Where ip_rcv_core() and ipv6_rcv() leave it. */
	skb_set_transport_header(skb, c->fam == 4 ? p->nhlen : sizeof(struct ipv6hdr));
	skb->protocol = htons(c->fam == 4 ? ETH_P_IP : ETH_P_IPV6);
	return skb;
}

/* Two 32-bit partial sums that stand for the same 16-bit sum. */
static bool st_csum_same(__wsum a, __wsum b)
{
	u16 x = ~(__force u16)csum_fold(a), y = ~(__force u16)csum_fold(b);

	return x % 0xffff == y % 0xffff;
}

static bool st_sum16_same(__sum16 a, __sum16 b)
{
	return (__force u16)a % 0xffff == (__force u16)b % 0xffff;
}

struct st_ctx {
	struct st_pkt in, want;
	u8 got[ST_MAX];
	char why[200];
	unsigned int pass, fail;
};

#define st_why(ctx, ...) (snprintf((ctx)->why, sizeof((ctx)->why), __VA_ARGS__), -1)

/* The pseudo-header sum a CHECKSUM_PARTIAL sender leaves in the field. */
static __sum16 st_seed(const struct st_case *c, const void *daddr,
		       unsigned int len)
{
	if (c->proto == IPPROTO_ICMP)
		return 0;
	if (c->fam == 4)
		return ~csum_tcpudp_magic(st_saddr4, *(const __be32 *)daddr,
					  len, c->proto, 0);
	return ~csum_ipv6_magic(&st_saddr6, daddr, len, c->proto, 0);
}

static bool st_partial_ok(const struct st_case *c)
{
	return c->frag == F_NONE && c->variant != V_ZERO &&
	       c->variant != V_COV8 && c->variant != V_COV20 &&
	       c->variant != V_CSCOV1 && c->variant != V_CSCOV3;
}

/* Compare the packet now in @skb with the expected one. */
static int st_check_bytes(const struct st_case *c, struct st_ctx *x,
			  const struct sk_buff *skb)
{
	const u8 *w = x->want.buf, *g = x->got;
	bool l4_moves = x->want.csum_at >= 0 && c->proto != IPPROTO_ICMP &&
			c->variant != V_ZERO;
	unsigned int i;

	if (skb->len != x->want.len)
		return st_why(x, "length %u, want %u", skb->len, x->want.len);
	if (skb_copy_bits(skb, 0, x->got, skb->len))
		return st_why(x, "skb_copy_bits failed");
	for (i = 0; i < x->want.len; i++) {
		if (c->fam == 4 && (i == 10 || i == 11))
			continue;
		if (l4_moves && (i == (unsigned int)x->want.csum_at ||
				 i == (unsigned int)x->want.csum_at + 1))
			continue;
		if (g[i] != w[i])
			return st_why(x, "byte %u is 0x%02x, want 0x%02x (offset from the IP header)",
				      i, g[i], w[i]);
	}
	if (c->fam == 4 && ip_fast_csum(g, g[0] & 15))
		return st_why(x, "IPv4 header checksum 0x%04x does not verify",
			      st_get16(g + 10));
	if (!l4_moves)
		return 0;

	if (c->frag == F_NONE) {
		const void *vip = c->fam == 4 ? (const void *)&st_vip4 : &st_vip6;
		const u8 *seg = g + x->want.l4off;

		if (st_l4_csum(c->fam, c->proto, vip, seg, x->want.seglen))
			return st_why(x, "L4 checksum 0x%04x does not verify (fresh one: 0x%04x)",
				      st_get16(g + x->want.csum_at),
				      st_get16(w + x->want.csum_at));
	} else {
		__sum16 a, b;

		memcpy(&a, g + x->want.csum_at, 2);
		memcpy(&b, w + x->want.csum_at, 2);
		if (!st_sum16_same(a, b))
			return st_why(x, "L4 checksum 0x%04x in the first fragment, want 0x%04x",
				      st_get16((u8 *)&a), st_get16((u8 *)&b));
	}
	if (st_is_udp(c->proto) && !st_get16(g + x->want.csum_at))
		return st_why(x, "UDP checksum 0 on the wire means none: want 0xffff");
	if (c->variant == V_RESULT0 &&
	    st_get16(g + x->want.csum_at) != 0xffff)
		return st_why(x, "checksum that computes to 0 is 0x%04x, want 0xffff",
			      st_get16(g + x->want.csum_at));
	return 0;
}

/* What the stack does with CHECKSUM_COMPLETE after PREROUTING: pull the
 * network and extension headers off skb->csum, add the pseudo-header, and
 * expect zero (__skb_checksum_validate_complete()).
 */
static int st_check_complete(const struct st_case *c, struct st_ctx *x,
			     const struct sk_buff *skb)
{
	__wsum all = skb_checksum(skb, 0, skb->len, 0), l4;
	const void *vip = c->fam == 4 ? (const void *)&st_vip4 : &st_vip6;
	__sum16 r;

	if (!st_csum_same(skb->csum, all))
		return st_why(x, "CHECKSUM_COMPLETE: skb->csum sums to 0x%04x, the bytes from the network header to 0x%04x",
			      (__force u16)~csum_fold(skb->csum),
			      (__force u16)~csum_fold(all));
	if (c->frag != F_NONE ||
	    st_coverage(c->proto, x->got + x->want.l4off, x->want.seglen) != x->want.seglen)
		return 0;
	if (c->variant == V_ZERO && c->fam == 4)
		return 0;
	l4 = csum_sub(skb->csum, skb_checksum(skb, 0, x->want.l4off, 0));
	if (c->proto == IPPROTO_ICMP)
		r = csum_fold(l4);
	else if (c->fam == 4)
		r = csum_tcpudp_magic(st_saddr4, st_vip4, x->want.seglen, c->proto, l4);
	else
		r = csum_ipv6_magic(&st_saddr6, vip, x->want.seglen, c->proto, l4);
	if (r && c->variant != V_ZERO)
		return st_why(x, "CHECKSUM_COMPLETE: the L4 check through skb->csum fails (0x%04x)",
			      (__force u16)r);
	return 0;
}

static int st_run(const struct st_case *c, enum st_state state,
		  enum st_layout layout, struct st_ctx *x)
{
	const void *rip = c->fam == 4 ? (const void *)&st_rip4 : &st_rip6;
	const void *vip = c->fam == 4 ? (const void *)&st_vip4 : &st_vip6;
	struct sk_buff *skb, *clone = NULL;
	int ret;

	if (st_build(c, rip, &x->in) || st_build(c, vip, &x->want))
		return st_why(x, "test bug: cannot build the packet");
	if (c->variant == V_RESULT0 &&
	    st_l4_csum(c->fam, c->proto, vip, x->want.seg, x->want.seglen) != 0)
		return st_why(x, "test bug: the result-0 packet does not verify");

	/* A CHECKSUM_PARTIAL sender leaves the pseudo-header sum in the field. */
	if (state == S_PARTIAL) {
		__sum16 seed = st_seed(c, rip, x->in.seglen);

		memcpy(x->in.buf + x->in.csum_at, &seed, sizeof(seed));
	}
	skb = st_skb(c, &x->in, layout);
	if (!skb)
		return st_why(x, "out of memory");

	switch (state) {
	case S_NONE:
		skb->ip_summed = CHECKSUM_NONE;
		break;
	case S_UNNECESSARY:
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		break;
	case S_PARTIAL:
		if (!skb_partial_csum_set(skb, x->in.l4off,
					  x->in.csum_at - x->in.l4off)) {
			ret = st_why(x, "test bug: skb_partial_csum_set refused");
			goto out;
		}
		break;
	case S_COMPLETE:
		skb->ip_summed = CHECKSUM_COMPLETE;
		skb->csum = skb_checksum(skb, 0, skb->len, 0);
		break;
	default:
		break;
	}
	if (layout == L_CLONED) {
		clone = skb_clone(skb, GFP_KERNEL);
		if (!clone) {
			ret = st_why(x, "out of memory");
			goto out;
		}
	}

	if (c->fam == 4)
		ret = daddr_rewrite_ipv4(skb, st_vip4);
	else
		ret = daddr_rewrite_ipv6(skb, &st_vip6);
	if (ret) {
		ret = st_why(x, "the rewrite returned %d", ret);
		goto out;
	}

	if (state == S_PARTIAL) {
		__sum16 seed, want = st_seed(c, vip, x->in.seglen);

		if (skb->ip_summed != CHECKSUM_PARTIAL) {
			ret = st_why(x, "ip_summed changed from CHECKSUM_PARTIAL to %u",
				     skb->ip_summed);
			goto out;
		}
		memcpy(&seed, skb->data + x->in.csum_at, sizeof(seed));
		if (!st_sum16_same(seed, want)) {
			ret = st_why(x, "CHECKSUM_PARTIAL seed 0x%04x, want the VIP's pseudo-header sum 0x%04x",
				     (__force u16)seed, (__force u16)want);
			goto out;
		}
		ret = skb_checksum_help(skb);
		if (ret) {
			ret = st_why(x, "skb_checksum_help returned %d", ret);
			goto out;
		}
	} else if (state == S_COMPLETE && skb->ip_summed != CHECKSUM_COMPLETE) {
		/* Giving up COMPLETE is allowed, if wasteful; say so. */
		pr_info("note: %s: ip_summed went from CHECKSUM_COMPLETE to %u\n",
			c->name, skb->ip_summed);
	} else if (state != S_COMPLETE &&
		   skb->ip_summed != (state == S_NONE ? CHECKSUM_NONE : CHECKSUM_UNNECESSARY)) {
		ret = st_why(x, "ip_summed changed to %u", skb->ip_summed);
		goto out;
	}

	ret = st_check_bytes(c, x, skb);
	if (ret)
		goto out;
	if (state == S_COMPLETE && skb->ip_summed == CHECKSUM_COMPLETE) {
		ret = st_check_complete(c, x, skb);
		if (ret)
			goto out;
	}
	if ((layout == L_PAGED || layout == L_HDRONLY) && !skb->data_len) {
		ret = st_why(x, "the skb was linearised: only the headers should have been pulled");
		goto out;
	}
	if (clone) {
		if (skb_copy_bits(clone, 0, x->got, clone->len) ||
		    clone->len != x->in.len || memcmp(x->got, x->in.buf, x->in.len)) {
			ret = st_why(x, "the clone's bytes changed: the rewrite wrote into shared data");
			goto out;
		}
	}
out:
	kfree_skb(clone);
	kfree_skb(skb);
	return ret;
}

static void st_one(const struct st_case *c, enum st_state state,
		   enum st_layout layout, struct st_ctx *x)
{
	x->why[0] = 0;
	if (st_run(c, state, layout, x)) {
		x->fail++;
		pr_info("FAIL %s-%s%s: %s\n", c->name, st_state_name[state],
			st_layout_name[layout], x->why);
	} else {
		x->pass++;
		pr_info("PASS %s-%s%s\n", c->name, st_state_name[state],
			st_layout_name[layout]);
	}
}

/* Set DSCP and ECN in the packet @p, as daddr_set_dscp_ipv*() should. */
static void st_set_dsfield(u8 fam, struct st_pkt *p, u8 dscp, u8 ecn)
{
	u8 ds = dscp << 2 | ecn;

	if (fam == 4) {
		struct iphdr *iph = (struct iphdr *)p->buf;

		iph->tos = ds;
		iph->check = 0;
		iph->check = ip_fast_csum(iph, iph->ihl);
		return;
	}
	p->buf[0] = (p->buf[0] & 0xf0) | ds >> 4;
	p->buf[1] = (p->buf[1] & 0x0f) | (ds & 0x0f) << 4;
}

struct st_ds_case {
	u8 fam;
	u8 ecn;
	u8 dscp;	/* after; before: st_build's 10 (IPv4) or 12 (IPv6) */
	enum st_state state;
	enum st_layout layout;
};

static int st_ds_run(const struct st_ds_case *d, struct st_ctx *x)
{
	const struct st_case c = {
		.name = "dscp-set", .fam = d->fam, .proto = IPPROTO_UDP,
	};
	const void *rip = d->fam == 4 ? (const void *)&st_rip4 : &st_rip6;
	const void *vip = d->fam == 4 ? (const void *)&st_vip4 : &st_vip6;
	struct sk_buff *skb, *clone = NULL;
	u8 before = d->fam == 4 ? 10 : 12;
	int ret;

	if (st_build(&c, rip, &x->in) || st_build(&c, vip, &x->want))
		return st_why(x, "test bug: cannot build the packet");
	st_set_dsfield(d->fam, &x->in, before, d->ecn);
	st_set_dsfield(d->fam, &x->want, d->dscp, d->ecn);
	skb = st_skb(&c, &x->in, d->layout);
	if (!skb)
		return st_why(x, "out of memory");
	skb->ip_summed = CHECKSUM_NONE;
	if (d->state == S_COMPLETE) {
		skb->ip_summed = CHECKSUM_COMPLETE;
		skb->csum = skb_checksum(skb, 0, skb->len, 0);
	}
	if (d->layout == L_CLONED) {
		clone = skb_clone(skb, GFP_KERNEL);
		if (!clone) {
			ret = st_why(x, "out of memory");
			goto out;
		}
	}
	if (d->fam == 4)
		ret = daddr_rewrite_ipv4(skb, st_vip4) ?:
		      daddr_set_dscp_ipv4(skb, d->dscp);
	else
		ret = daddr_rewrite_ipv6(skb, &st_vip6) ?:
		      daddr_set_dscp_ipv6(skb, d->dscp);
	if (ret) {
		ret = st_why(x, "the rewrite returned %d", ret);
		goto out;
	}
	ret = st_check_bytes(&c, x, skb);
	if (!ret && d->state == S_COMPLETE)
		ret = st_check_complete(&c, x, skb);
	if (!ret && clone &&
	    (skb_copy_bits(clone, 0, x->got, clone->len) ||
	     memcmp(x->got, x->in.buf, x->in.len)))
		ret = st_why(x, "the clone's bytes changed: the DSCP was written into shared data");
out:
	kfree_skb(clone);
	kfree_skb(skb);
	return ret;
}

static const struct st_ds_case st_ds_cases[] = {
	{ 4, 1, 0, S_NONE, L_LINEAR },
	{ 4, 3, 46, S_NONE, L_CLONED },
	{ 4, 2, 0, S_COMPLETE, L_LINEAR },
	{ 4, 3, 63, S_COMPLETE, L_CLONED },
	{ 6, 1, 0, S_NONE, L_LINEAR },
	{ 6, 3, 46, S_NONE, L_CLONED },
	{ 6, 2, 0, S_COMPLETE, L_LINEAR },
	{ 6, 3, 63, S_COMPLETE, L_CLONED },
	{ 6, 1, 34, S_COMPLETE, L_PAGED },
};

static void st_ds_cases_run(struct st_ctx *x)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(st_ds_cases); i++) {
		const struct st_ds_case *d = &st_ds_cases[i];

		x->why[0] = 0;
		if (st_ds_run(d, x)) {
			x->fail++;
			pr_info("FAIL dscp-set-v%u-ecn%u-to%u-%s%s: %s\n", d->fam,
				d->ecn, d->dscp, st_state_name[d->state],
				st_layout_name[d->layout], x->why);
		} else {
			x->pass++;
			pr_info("PASS dscp-set-v%u-ecn%u-to%u-%s%s\n", d->fam,
				d->ecn, d->dscp, st_state_name[d->state],
				st_layout_name[d->layout]);
		}
	}
}

static int __init daddr_selftest_init(void)
{
	struct st_ctx *x = kzalloc(sizeof(*x), GFP_KERNEL);
	unsigned int i, fail;
	int s, l;

	if (!x)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(st_cases); i++) {
		const struct st_case *c = &st_cases[i];

		for (s = 0; s < S_NR; s++) {
			if (s == S_PARTIAL && !st_partial_ok(c))
				continue;
			st_one(c, s, L_LINEAR, x);
			for (l = L_LINEAR + 1; l < L_NR; l++) {
				if (!(c->layouts & BIT(l)))
					continue;
				/* csum_start must lie in the linear part. */
				if (s == S_PARTIAL && l != L_CLONED)
					continue;
				st_one(c, s, l, x);
			}
		}
	}
	st_ds_cases_run(x);
	st_table_cases(&x->pass, &x->fail);
	pr_info("%u cases, %u passed, %u failed\n", x->pass + x->fail, x->pass,
		x->fail);
	fail = x->fail;
	kfree(x);
	return fail ? -EINVAL : 0;
}

static void __exit daddr_selftest_exit(void)
{
}

module_init(daddr_selftest_init);
module_exit(daddr_selftest_exit);

MODULE_DESCRIPTION("Self-test of the DADDR destination rewrite, its checksum fix-ups, and the map table");
MODULE_LICENSE("GPL");
