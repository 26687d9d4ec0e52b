/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * The ABI between the tc ingress program (l3dsr.bpf.c) and its loader
 * (internal/bpfdsr): the layout of the pinned maps. bpf2go turns these
 * structs into Go types, so this header is the one source of that layout.
 *
 * The table has the module's key and lookup order (kmod/uapi/linux/l3dsr.h):
 * (DSCP, local) > (DSCP, any local) > (any DSCP, local). The first match wins.
 */
#ifndef L3DSR_BPF_H
#define L3DSR_BPF_H

#include <linux/types.h>

/* Families as the key spells them: the IP version, as dsrtypes does. */
#define L3DSR_BPF_FAMILY_V4	4
#define L3DSR_BPF_FAMILY_V6	6

/* A key's DSCP that matches every code; it needs a local address. */
#define L3DSR_BPF_DSCP_ANY	255
/* A value's set_dscp that keeps the packet's own code. */
#define L3DSR_BPF_SET_DSCP_KEEP	255

/* The module's limit, so that a table that fits one backend fits both. */
#define L3DSR_BPF_MAX_ENTRIES	1048576

/* Indexes of the present map. */
#define L3DSR_BPF_PRESENT_V4	0
#define L3DSR_BPF_PRESENT_V6	1

struct l3dsr_key {
	__u8 family;		/* L3DSR_BPF_FAMILY_V4 or _V6 */
	__u8 dscp;		/* 0..63, or L3DSR_BPF_DSCP_ANY */
	__u8 pad[2];		/* zero */
	__u8 local[16];		/* all zero: any; IPv4 in local[0..3], rest zero */
};

/*
 * A per-CPU value: vip and set_dscp are the same in every CPU's copy, the
 * counters are that CPU's. A reader sums the counters over the CPUs.
 */
struct l3dsr_val {
	__u8 vip[16];		/* IPv4 in vip[0..3], rest zero */
	__u8 set_dscp;		/* 0..63, or L3DSR_BPF_SET_DSCP_KEEP */
	__u8 pad[7];		/* zero */
	__u64 packets;
	__u64 bytes;		/* skb->len: from the network header on */
};

/*
 * What the table holds, per family, so that a packet whose code no entry
 * has skips the hash lookups. The loader keeps it a superset of the table
 * in use: the union of old and new while a replace swaps them.
 */
struct l3dsr_present {
	__u64 codes;		/* bit d: an entry with DSCP d (any local) */
	__u32 any_dscp;		/* nonzero: an any-DSCP entry exists */
	__u32 pad;
};

/* The totals map's one slot, per CPU. */
struct l3dsr_totals {
	__u64 rewritten;	/* packets given their VIP */
	__u64 no_entry;		/* IP packets that matched no entry */
	__u64 errors;		/* packets dropped: the rewrite failed */
	__u64 skipped;		/* left alone: a routing header with segments left */
};

/* The meta map's one slot: kept by the loader, never by the program. */
struct l3dsr_meta {
	__u64 netns_cookie;	/* the namespace the pins belong to */
	__u32 generation;	/* bumped by every change of the table */
	__u32 entries;		/* entries in the table in use */
};

#endif /* L3DSR_BPF_H */
