/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Map mode's per-network-namespace table: (family, DSCP or any, local
 * address or any) -> VIP, and the DSCP to leave with.
 *
 * A packet is looked up as (DSCP, local), then (DSCP, any local), then
 * (any DSCP, local): the first entry found wins (linux/l3dsr.h says why).
 *
 * Readers (the packet path) hold only rcu_read_lock. Writers (generic
 * netlink) hold the namespace's mutex. The live table sits behind one RCU
 * pointer so that a whole-table replace is a single pointer swap; single
 * entry changes go into the live rhashtable, which is safe for concurrent
 * RCU readers.
 */
#ifndef _L3DSR_DADDR_TABLE_H
#define _L3DSR_DADDR_TABLE_H

#include <linux/bitmap.h>
#include <linux/hash.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rhashtable.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <linux/netfilter.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

/* Hashed and compared as raw bytes: build it with daddr_key_init() so the
 * padding and the unused part of an IPv4 address are zero.
 */
struct daddr_key {
	union nf_inet_addr local;	/* all zero: "any" */
	u8 family;			/* AF_INET or AF_INET6 */
	u8 dscp;			/* 0..63, or L3DSR_DSCP_ANY */
	u8 pad[2];
};

/* daddr_entry.dscp_set of an entry that leaves the packet's DSCP alone. */
#define DADDR_DSCP_KEEP	0xff

/* What an entry gives a packet: one immutable object per change, so that a
 * reader sees a VIP and its DSCP from the same version.
 */
struct daddr_value {
	union nf_inet_addr vip;
	u8 dscp_set;			/* 0..63, or DADDR_DSCP_KEEP */
};

struct daddr_entry_pcpu {
	u64_stats_t packets;
	u64_stats_t bytes;
	struct u64_stats_sync syncp;
};

struct daddr_entry {
	struct rhash_head node;
	union {
		/* Writers only, under the namespace mutex. */
		struct list_head list;
		/* Once unlinked from the list, the entry waits here for the
		 * readers that may still hold it.
		 */
		struct rcu_head rcu;
	};
	struct daddr_entry_pcpu __percpu *stats;
	struct daddr_key key;
	struct daddr_value val;
	/* The counters move to the entry that takes this key's place (an
	 * NLM_F_REPLACE add, a committed replace), so they survive VIP
	 * changes. Only the owner frees them; both may count into them
	 * while readers of the old entry drain.
	 */
	bool owns_stats;
};

struct daddr_table {
	struct rhashtable ht;
	/* Every entry, in insertion order: the stable cursor of dumps. */
	struct list_head entries;
	/* Entries per family ([0] IPv4, [1] IPv6), kind ([0] a local
	 * address, [1] any) and code, any-DSCP keys aside. Written under the
	 * namespace mutex, read locklessly by packets: a packet whose code
	 * has none skips the hash. Most packets a real server takes are its
	 * ordinary traffic (DSCP 0 to its own address), which no entry covers
	 * and which would otherwise pay a lookup per key.
	 */
	u32 count[2][2][64];
	/* Entries per family, for the direct path's hooks. */
	u32 nelems[2];
	/* Per family, the local addresses that have an any-DSCP entry, for
	 * the third lookup; NULL until the table gets its first one.
	 */
	struct daddr_any_filter __rcu *any[2];
	struct rcu_work free_work;
};

/* Any-DSCP keys are few against the packets that would pay a hash lookup
 * for them: every packet to one of the server's own addresses. A bit per
 * hash of the local address answers "surely none" in one test_bit for
 * most of those. Bits are set and cleared by writers under the namespace
 * mutex, which also own @users (how many keys share each bit); readers
 * only test bits.
 */
#define DADDR_ANY_FILTER_BITS	14

struct daddr_any_filter {
	DECLARE_BITMAP(bits, 1 << DADDR_ANY_FILTER_BITS);
	u32 users[1 << DADDR_ANY_FILTER_BITS];
};

static inline u32 daddr_any_hash(u8 family, const union nf_inet_addr *a)
{
	u32 x = family == AF_INET ? (__force u32)a->ip :
		(__force u32)(a->all[0] ^ a->all[1] ^ a->all[2] ^ a->all[3]);

	return hash_32(x, DADDR_ANY_FILTER_BITS);
}

/* May @t hold an any-DSCP entry for @daddr? False is exact; true may be a
 * hash collision. The filter lives as long as its table, so only its
 * publication needs ordering: the raw dereference gives that to readers
 * and to writers alike.
 */
static inline bool daddr_any_maybe(const struct daddr_table *t, u8 family,
				   const union nf_inet_addr *daddr)
{
	const struct daddr_any_filter *f;

	f = rcu_dereference_raw(t->any[family == AF_INET6]);
	return f && test_bit(daddr_any_hash(family, daddr), f->bits);
}

struct daddr_net_pcpu {
	u64_stats_t no_entry;
	u64_stats_t errors;
	struct u64_stats_sync syncp;
};

struct daddr_net {
	struct daddr_table __rcu *live;
	struct daddr_net_pcpu __percpu *totals;
	/* Serializes every writer, and dumps against writers. */
	struct mutex lock;
	/* Bumped by every change of the live table (dump consistency). */
	u32 generation;
	/* At most one staged replace; 0 never names one. */
	struct daddr_table *staged;
	u32 staged_id;
	/* The generic netlink socket that began it: the replace is freed
	 * when that socket closes (daddr_replace_release).
	 */
	u32 staged_portid;
	u32 last_replace_id;
	/* Packets rewritten by entries no longer in the table. */
	u64 gone;
	/* The direct path (daddr_direct.c): the mode and the L3DSR_HOOK_*
	 * bits of the registered hooks, written under direct_lock, which
	 * every change of the live table, and staging, hold around dn->lock.
	 */
	struct mutex direct_lock;
	u8 mode;
	u8 hooks;
};

struct daddr_counters {
	u64 packets;
	u64 bytes;
};

struct daddr_totals {
	u64 rewritten;
	u64 no_entry;
	u64 errors;
	u32 entries;
};

extern unsigned int daddr_net_id;

/* Inline: every packet of map mode needs its namespace's table, and an
 * out-of-line call for one net_generic() load showed in profiles.
 */
static inline struct daddr_net *daddr_net(const struct net *net)
{
	return net_generic(net, daddr_net_id);
}

int daddr_table_module_init(void);
void daddr_table_module_exit(void);

static inline void daddr_key_init(struct daddr_key *key, u8 family, u8 dscp,
				  const union nf_inet_addr *local)
{
	memset(key, 0, sizeof(*key));
	key->family = family;
	key->dscp = dscp;
	if (!local)
		return;
	if (family == AF_INET)
		key->local.ip = local->ip;
	else
		key->local.in6 = local->in6;
}

static inline bool daddr_key_is_any(const struct daddr_key *key)
{
	return !(key->local.all[0] | key->local.all[1] |
		 key->local.all[2] | key->local.all[3]);
}

/* Packet path: call under rcu_read_lock. */
const struct daddr_entry *daddr_lookup(struct daddr_net *dn, u8 family,
				       u8 dscp,
				       const union nf_inet_addr *daddr);
void daddr_count_rewritten(const struct daddr_entry *e, unsigned int len);
void daddr_count_no_entry(struct daddr_net *dn);
void daddr_count_error(struct daddr_net *dn);

/* Control path: every function below takes and releases dn->lock itself,
 * except where it says "locked", which needs it held.
 */
int daddr_map_add(struct daddr_net *dn, const struct daddr_key *key,
		  const struct daddr_value *val, bool replace);
int daddr_map_del(struct daddr_net *dn, const struct daddr_key *key);
int daddr_map_flush(struct daddr_net *dn, u8 family);
void daddr_totals_read(struct daddr_net *dn, struct daddr_totals *t,
		       u32 *generation);

int daddr_replace_begin(struct daddr_net *dn, u32 portid, u32 *id);
void daddr_replace_release(struct daddr_net *dn, u32 portid);
int daddr_replace_commit(struct daddr_net *dn, u32 id);
int daddr_replace_abort(struct daddr_net *dn, u32 id);

/* REPLACE_ADD is all or nothing per message: the caller holds dn->lock,
 * checks the id, remembers the mark, inserts, and rolls back to the mark
 * when one entry of the message fails.
 */
int daddr_replace_check_locked(struct daddr_net *dn, u32 id);
struct list_head *daddr_replace_mark_locked(struct daddr_net *dn);
int daddr_replace_insert_locked(struct daddr_net *dn,
				const struct daddr_key *key,
				const struct daddr_value *val);
void daddr_replace_rollback_locked(struct daddr_net *dn,
				   struct list_head *mark);

/* Locked helpers for GET and dumps. */
struct daddr_table *daddr_live_locked(struct daddr_net *dn);
struct daddr_entry *daddr_find_locked(struct daddr_table *t,
				      const struct daddr_key *key);
void daddr_counters_read(const struct daddr_entry *e,
			 struct daddr_counters *c);

unsigned int daddr_max_entries(void);

/* L3DSR_HOOK_* of the families that have entries: in the live table, and
 * in the staged replace @id (0 when @id is not the one staged).
 */
unsigned int daddr_live_families(struct daddr_net *dn);
unsigned int daddr_staged_families(struct daddr_net *dn, u32 id);

#endif /* _L3DSR_DADDR_TABLE_H */
