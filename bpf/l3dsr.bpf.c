// SPDX-License-Identifier: GPL-2.0
/*
 * l3dsr's tc ingress program: the module-free backend of the DSCP->VIP
 * rewrite. See l3dsr.h for the maps and the lookup order.
 *
 * SKELETON: the maps are final (the contract), the program is not yet.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "l3dsr.h"

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
		 * template as forward declarations, which cannot be sized. */
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
const struct l3dsr_key l3dsr_key_abi __attribute__((unused));
const struct l3dsr_val l3dsr_val_abi __attribute__((unused));

SEC("tc")
int l3dsr_ingress(struct __sk_buff *skb)
{
	struct l3dsr_key key = {};
	struct l3dsr_val *val;
	__u32 zero = 0;
	void *table;

	table = bpf_map_lookup_elem(&tables, &zero);
	if (!table)
		return TC_ACT_UNSPEC;
	val = bpf_map_lookup_elem(table, &key);
	if (val)
		val->packets++;
	/* TC_ACT_UNSPEC: the next tc program or filter still runs. */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
