// SPDX-License-Identifier: GPL-2.0
/*
 * Map mode's per-network-namespace (DSCP, local address) -> VIP table.
 *
 * Lifetimes:
 *  - An entry removed from the live table (DEL, family FLUSH, the old half
 *    of an NLM_F_REPLACE add) is freed by call_rcu: packets may still hold
 *    it.
 *  - A whole table taken out of service (REPLACE_COMMIT, FLUSH of every
 *    family) is freed by an rcu_work on our own workqueue: after a grace
 *    period, and in process context, because 65,536 entries are too many to
 *    free in a softirq callback.
 *  - A staged table was never visible to packets and is freed at once.
 *  - Module unload waits for both kinds of deferred free (rcu_barrier, then
 *    destroy_workqueue) before the entry cache goes away.
 */
#define pr_fmt(fmt) "DADDR: " fmt

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/fault-inject.h>

#include <linux/l3dsr.h>

#include "compat.h"
#include "daddr_table.h"

static unsigned int max_entries = L3DSR_MAX_ENTRIES;
module_param(max_entries, uint, 0644);
MODULE_PARM_DESC(max_entries,
		 "Most entries one namespace's table may hold (at most 1048576, the default)");

unsigned int daddr_net_id __read_mostly;
static struct kmem_cache *daddr_entry_cache __read_mostly;
static struct workqueue_struct *daddr_wq __read_mostly;

/* The default compare is memcmp, an out-of-line byte loop on x86-64, for
 * every entry of a bucket a packet walks; the key is five words.
 */
static int daddr_key_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const u32 *a = arg->key;
	const u32 *b = (const u32 *)&((const struct daddr_entry *)obj)->key;

	BUILD_BUG_ON(sizeof(struct daddr_key) != 5 * sizeof(u32));
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) |
		(a[3] ^ b[3]) | (a[4] ^ b[4])) != 0;
}

static const struct rhashtable_params daddr_ht_params = {
	.head_offset		= offsetof(struct daddr_entry, node),
	.key_offset		= offsetof(struct daddr_entry, key),
	.key_len		= sizeof(struct daddr_key),
	.obj_cmpfn		= daddr_key_cmp,
	.automatic_shrinking	= true,
};

unsigned int daddr_max_entries(void)
{
	return min_t(unsigned int, READ_ONCE(max_entries), L3DSR_MAX_ENTRIES);
}

static struct daddr_table *daddr_table_alloc(void)
{
	struct daddr_table *t;

	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;
	if (rhashtable_init(&t->ht, &daddr_ht_params)) {
		kfree(t);
		return NULL;
	}
	INIT_LIST_HEAD(&t->entries);
	return t;
}

static struct daddr_entry *daddr_entry_alloc(const struct daddr_key *key,
					     const struct daddr_value *val)
{
	struct daddr_entry *e;

	e = kmem_cache_zalloc(daddr_entry_cache, GFP_KERNEL_ACCOUNT);
	if (!e)
		return NULL;
	e->key = *key;
	e->val = *val;
	return e;
}

/* Per-CPU allocations never pass through failslab, and COMMIT's only
 * allocations are per-CPU counters. On a kernel built with fault injection,
 * this point counts in a task's /proc/PID/fail-nth like any other, so a test
 * can fail COMMIT and namespace creation as it fails every kmalloc.
 */
#ifdef CONFIG_FAULT_INJECTION
static DECLARE_FAULT_ATTR(daddr_fail_percpu);
#define daddr_percpu_fails() should_fail(&daddr_fail_percpu, 1)
#else
#define daddr_percpu_fails() false
#endif

static struct daddr_entry_pcpu __percpu *daddr_stats_alloc(void)
{
	struct daddr_entry_pcpu __percpu *stats;
	int cpu;

	if (daddr_percpu_fails())
		return NULL;
	stats = alloc_percpu_gfp(struct daddr_entry_pcpu, GFP_KERNEL_ACCOUNT);
	if (!stats)
		return NULL;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(stats, cpu)->syncp);
	return stats;
}

static void daddr_entry_free(struct daddr_entry *e)
{
	if (e->owns_stats)
		free_percpu(e->stats);
	kmem_cache_free(daddr_entry_cache, e);
}

static void daddr_entry_free_rcu(struct rcu_head *head)
{
	daddr_entry_free(container_of(head, struct daddr_entry, rcu));
}

/* The table is out of every reader's reach. The rhashtable goes first: its
 * deferred resize work walks the entries, so it must be cancelled (which
 * rhashtable_destroy does) before they are freed.
 */
static void daddr_table_destroy(struct daddr_table *t)
{
	struct daddr_entry *e, *tmp;

	rhashtable_destroy(&t->ht);
	list_for_each_entry_safe(e, tmp, &t->entries, list) {
		daddr_entry_free(e);
		cond_resched();
	}
	kvfree(rcu_dereference_protected(t->any[0], true));
	kvfree(rcu_dereference_protected(t->any[1], true));
	kfree(t);
}

static void daddr_table_free_work(struct work_struct *work)
{
	daddr_table_destroy(container_of(to_rcu_work(work), struct daddr_table,
					 free_work));
}

/* Packets may still be walking @t: free it after a grace period. */
static void daddr_table_retire(struct daddr_table *t)
{
	INIT_RCU_WORK(&t->free_work, daddr_table_free_work);
	queue_rcu_work(daddr_wq, &t->free_work);
}

static unsigned int daddr_table_size(struct daddr_table *t)
{
	return atomic_read(&t->ht.nelems);
}

static bool daddr_key_any_dscp(const struct daddr_key *key)
{
	return key->dscp == L3DSR_DSCP_ANY;
}

/* The writers' side of the filters: call with the namespace mutex held, or
 * on a staged table no packet can reach.
 */
static struct daddr_any_filter *daddr_filter_locked(struct daddr_table *t,
						    u8 family)
{
	return rcu_dereference_protected(t->any[family == AF_INET6], true);
}

/* Before @key enters @t: the only part of a tally that can fail. */
static int daddr_tally_prepare(struct daddr_table *t,
			       const struct daddr_key *key)
{
	struct daddr_any_filter *f;

	if (!daddr_key_any_dscp(key) || daddr_filter_locked(t, key->family))
		return 0;
	f = kvzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	rcu_assign_pointer(t->any[key->family == AF_INET6], f);
	return 0;
}

/* Right after @key entered (@delta 1) or left (-1) @t's hash, which
 * daddr_tally_prepare() made ready for it.
 */
static void daddr_tally_key(struct daddr_table *t, const struct daddr_key *key,
			    int delta)
{
	struct daddr_any_filter *f;
	u32 *n, h;

	t->nelems[key->family == AF_INET6] += delta;
	if (!daddr_key_any_dscp(key)) {
		n = &t->count[key->family == AF_INET6][daddr_key_is_any(key)]
			     [key->dscp];
		WRITE_ONCE(*n, *n + delta);
		return;
	}
	f = daddr_filter_locked(t, key->family);
	h = daddr_any_hash(key->family, &key->local);
	f->users[h] += delta;
	if (f->users[h])
		set_bit(h, f->bits);
	else
		clear_bit(h, f->bits);
}

struct daddr_table *daddr_live_locked(struct daddr_net *dn)
{
	return rcu_dereference_protected(dn->live, lockdep_is_held(&dn->lock));
}

struct daddr_entry *daddr_find_locked(struct daddr_table *t,
				      const struct daddr_key *key)
{
	return rhashtable_lookup_fast(&t->ht, key, daddr_ht_params);
}

static unsigned int daddr_families(const struct daddr_table *t)
{
	return (t->nelems[0] ? L3DSR_HOOK_IPV4 : 0) |
	       (t->nelems[1] ? L3DSR_HOOK_IPV6 : 0);
}

unsigned int daddr_live_families(struct daddr_net *dn)
{
	unsigned int f;

	mutex_lock(&dn->lock);
	f = daddr_families(daddr_live_locked(dn));
	mutex_unlock(&dn->lock);
	return f;
}

unsigned int daddr_staged_families(struct daddr_net *dn, u32 id)
{
	unsigned int f = 0;

	mutex_lock(&dn->lock);
	if (!daddr_replace_check_locked(dn, id))
		f = daddr_families(dn->staged);
	mutex_unlock(&dn->lock);
	return f;
}

/* Packet path */

const struct daddr_entry *daddr_lookup(struct daddr_net *dn, u8 family,
				       u8 dscp,
				       const union nf_inet_addr *daddr)
{
	struct daddr_table *t = rcu_dereference(dn->live);
	const u32 (*n)[64];
	const struct daddr_entry *e;
	struct daddr_key key;

	if (unlikely(!t))
		return NULL;
	n = t->count[family == AF_INET6];
	/* A count may lag its entry by a moment either way; that packet sees
	 * the table as it was just before or after the change.
	 */
	if (READ_ONCE(n[0][dscp])) {
		daddr_key_init(&key, family, dscp, daddr);
		e = rhashtable_lookup(&t->ht, &key, daddr_ht_params);
		if (e)
			return e;
	}
	if (READ_ONCE(n[1][dscp])) {
		daddr_key_init(&key, family, dscp, NULL);
		e = rhashtable_lookup(&t->ht, &key, daddr_ht_params);
		if (e)
			return e;
	}
	if (!daddr_any_maybe(t, family, daddr))
		return NULL;
	daddr_key_init(&key, family, L3DSR_DSCP_ANY, daddr);
	return rhashtable_lookup(&t->ht, &key, daddr_ht_params);
}

/* The counters are written with softirqs of this CPU kept away. Packets
 * almost always come here in softirq context, or with BH disabled (as
 * ip_tables does): then nothing is needed. An nft base chain (nft_compat)
 * does not disable BH itself, so a hook run in process context takes the
 * slow way.
 */
static bool daddr_count_begin(void)
{
	if (likely(in_softirq()))
		return false;
	local_bh_disable();
	return true;
}

static void daddr_count_end(bool bh)
{
	if (bh)
		local_bh_enable();
}

/* @c is one of the counters of @n, this CPU's totals. */
static void daddr_total_inc(struct daddr_net_pcpu *n, u64_stats_t *c)
{
	u64_stats_update_begin(&n->syncp);
	u64_stats_inc(c);
	u64_stats_update_end(&n->syncp);
}

void daddr_count_rewritten(const struct daddr_entry *e, unsigned int len)
{
	bool bh = daddr_count_begin();
	struct daddr_entry_pcpu *s;

	s = this_cpu_ptr(e->stats);
	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->packets);
	u64_stats_add(&s->bytes, len);
	u64_stats_update_end(&s->syncp);
	daddr_count_end(bh);
}

/* BH is off (or we are in softirq) before this_cpu_ptr() is taken. */
void daddr_count_no_entry(struct daddr_net *dn)
{
	bool bh = daddr_count_begin();
	struct daddr_net_pcpu *n = this_cpu_ptr(dn->totals);

	daddr_total_inc(n, &n->no_entry);
	daddr_count_end(bh);
}

void daddr_count_error(struct daddr_net *dn)
{
	bool bh = daddr_count_begin();
	struct daddr_net_pcpu *n = this_cpu_ptr(dn->totals);

	daddr_total_inc(n, &n->errors);
	daddr_count_end(bh);
}

void daddr_counters_read(const struct daddr_entry *e, struct daddr_counters *c)
{
	unsigned int start;
	int cpu;

	c->packets = 0;
	c->bytes = 0;
	if (!e->stats)
		return;
	for_each_possible_cpu(cpu) {
		const struct daddr_entry_pcpu *s = per_cpu_ptr(e->stats, cpu);
		u64 packets, bytes;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			packets = u64_stats_read(&s->packets);
			bytes = u64_stats_read(&s->bytes);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		c->packets += packets;
		c->bytes += bytes;
	}
}

/* The namespace's rewritten total is its entries' counts plus those of
 * entries gone: one counter per packet instead of two. An entry's counts
 * move to @dn->gone when it leaves the live table; the few packets its
 * remaining readers count after that are not in the total. Counters an
 * entry has handed to its successor are counted there, not here.
 */
static u64 daddr_entry_packets(const struct daddr_entry *e)
{
	struct daddr_counters c;

	if (!e->owns_stats)
		return 0;
	daddr_counters_read(e, &c);
	return c.packets;
}

static u64 daddr_table_packets(const struct daddr_table *t)
{
	const struct daddr_entry *e;
	u64 n = 0;

	list_for_each_entry(e, &t->entries, list) {
		n += daddr_entry_packets(e);
		cond_resched();
	}
	return n;
}

void daddr_totals_read(struct daddr_net *dn, struct daddr_totals *t,
		       u32 *generation)
{
	struct daddr_table *live;
	unsigned int start;
	int cpu;

	memset(t, 0, sizeof(*t));
	for_each_possible_cpu(cpu) {
		const struct daddr_net_pcpu *n = per_cpu_ptr(dn->totals, cpu);
		u64 no_entry, errors;

		do {
			start = u64_stats_fetch_begin(&n->syncp);
			no_entry = u64_stats_read(&n->no_entry);
			errors = u64_stats_read(&n->errors);
		} while (u64_stats_fetch_retry(&n->syncp, start));
		t->no_entry += no_entry;
		t->errors += errors;
	}
	mutex_lock(&dn->lock);
	live = daddr_live_locked(dn);
	t->rewritten = dn->gone + daddr_table_packets(live);
	t->entries = daddr_table_size(live);
	*generation = dn->generation;
	mutex_unlock(&dn->lock);
}

/* Single-entry changes of the live table */

static bool daddr_value_equal(const struct daddr_value *a,
			      const struct daddr_value *b)
{
	return !memcmp(&a->vip, &b->vip, sizeof(a->vip)) &&
	       a->dscp_set == b->dscp_set;
}

int daddr_map_add(struct daddr_net *dn, const struct daddr_key *key,
		  const struct daddr_value *val, bool replace)
{
	struct daddr_entry *e, *old;
	struct daddr_table *t;
	int err;

	e = daddr_entry_alloc(key, val);
	if (!e)
		return -ENOMEM;

	mutex_lock(&dn->lock);
	t = daddr_live_locked(dn);
	old = daddr_find_locked(t, key);
	if (old) {
		err = -EEXIST;
		if (!replace)
			goto out_free;
		err = 0;
		if (daddr_value_equal(&old->val, val))
			goto out_free;
		/* A new object rather than an in-place change: a reader must
		 * never see half of a 16-byte VIP, or a VIP with the other
		 * version's DSCP.
		 */
		e->stats = old->stats;
		e->owns_stats = true;
		err = rhashtable_replace_fast(&t->ht, &old->node, &e->node,
					      daddr_ht_params);
		if (err)
			goto out_free_unowned;
		old->owns_stats = false;
		list_replace(&old->list, &e->list);
		call_rcu(&old->rcu, daddr_entry_free_rcu);
	} else {
		err = -ENOSPC;
		if (daddr_table_size(t) >= daddr_max_entries())
			goto out_free;
		err = daddr_tally_prepare(t, key);
		if (err)
			goto out_free;
		err = -ENOMEM;
		e->stats = daddr_stats_alloc();
		if (!e->stats)
			goto out_free;
		e->owns_stats = true;
		err = rhashtable_insert_fast(&t->ht, &e->node, daddr_ht_params);
		if (err)
			goto out_free;
		daddr_tally_key(t, key, 1);
		list_add_tail(&e->list, &t->entries);
	}
	dn->generation++;
	mutex_unlock(&dn->lock);
	return 0;

out_free_unowned:
	e->owns_stats = false;
out_free:
	mutex_unlock(&dn->lock);
	daddr_entry_free(e);
	return err;
}

/* Called with dn->lock held; @e is in the live table @t. */
static void daddr_unlink_locked(struct daddr_net *dn, struct daddr_table *t,
				struct daddr_entry *e)
{
	dn->gone += daddr_entry_packets(e);
	rhashtable_remove_fast(&t->ht, &e->node, daddr_ht_params);
	daddr_tally_key(t, &e->key, -1);
	list_del(&e->list);
	call_rcu(&e->rcu, daddr_entry_free_rcu);
}

int daddr_map_del(struct daddr_net *dn, const struct daddr_key *key)
{
	struct daddr_entry *e;
	struct daddr_table *t;
	int err = -ENOENT;

	mutex_lock(&dn->lock);
	t = daddr_live_locked(dn);
	e = daddr_find_locked(t, key);
	if (e) {
		daddr_unlink_locked(dn, t, e);
		dn->generation++;
		err = 0;
	}
	mutex_unlock(&dn->lock);
	return err;
}

/* @family 0: every family, by swapping in an empty table (one pointer
 * store however large the table). One family: entry by entry.
 */
int daddr_map_flush(struct daddr_net *dn, u8 family)
{
	struct daddr_entry *e, *tmp;
	struct daddr_table *t, *empty = NULL;

	if (!family) {
		empty = daddr_table_alloc();
		if (!empty)
			return -ENOMEM;
	}

	mutex_lock(&dn->lock);
	t = daddr_live_locked(dn);
	if (empty) {
		dn->gone += daddr_table_packets(t);
		rcu_assign_pointer(dn->live, empty);
		daddr_table_retire(t);
	} else {
		list_for_each_entry_safe(e, tmp, &t->entries, list) {
			if (e->key.family != family)
				continue;
			daddr_unlink_locked(dn, t, e);
			cond_resched();
		}
	}
	dn->generation++;
	mutex_unlock(&dn->lock);
	return 0;
}

/* Whole-table replace */

int daddr_replace_begin(struct daddr_net *dn, u32 portid, u32 *id)
{
	struct daddr_table *t, *old;

	t = daddr_table_alloc();
	if (!t)
		return -ENOMEM;

	mutex_lock(&dn->lock);
	old = dn->staged;
	dn->staged = t;
	if (!++dn->last_replace_id)
		++dn->last_replace_id;
	dn->staged_id = dn->last_replace_id;
	dn->staged_portid = portid;
	*id = dn->staged_id;
	mutex_unlock(&dn->lock);

	if (old)
		daddr_table_destroy(old);
	return 0;
}

int daddr_replace_check_locked(struct daddr_net *dn, u32 id)
{
	lockdep_assert_held(&dn->lock);
	if (!dn->staged || !id || id != dn->staged_id)
		return -ESTALE;
	return 0;
}

struct list_head *daddr_replace_mark_locked(struct daddr_net *dn)
{
	return dn->staged->entries.prev;
}

/* Staged entries get their counters at commit: a key that stays keeps the
 * counters it has, so they are not allocated here.
 */
int daddr_replace_insert_locked(struct daddr_net *dn,
				const struct daddr_key *key,
				const struct daddr_value *val)
{
	struct daddr_table *t = dn->staged;
	struct daddr_entry *e;
	int err;

	if (daddr_table_size(t) >= daddr_max_entries())
		return -ENOSPC;
	err = daddr_tally_prepare(t, key);
	if (err)
		return err;
	e = daddr_entry_alloc(key, val);
	if (!e)
		return -ENOMEM;
	err = rhashtable_lookup_insert_fast(&t->ht, &e->node, daddr_ht_params);
	if (err) {
		daddr_entry_free(e);
		return err;
	}
	daddr_tally_key(t, key, 1);
	list_add_tail(&e->list, &t->entries);
	return 0;
}

/* Not visible to packets: entries go at once. */
void daddr_replace_rollback_locked(struct daddr_net *dn,
				   struct list_head *mark)
{
	struct daddr_table *t = dn->staged;
	struct daddr_entry *e;

	while (t->entries.prev != mark) {
		e = list_last_entry(&t->entries, struct daddr_entry, list);
		rhashtable_remove_fast(&t->ht, &e->node, daddr_ht_params);
		daddr_tally_key(t, &e->key, -1);
		list_del(&e->list);
		daddr_entry_free(e);
	}
}

int daddr_replace_commit(struct daddr_net *dn, u32 id)
{
	struct daddr_entry *e, *prev;
	struct daddr_table *t, *old;
	int err;

	mutex_lock(&dn->lock);
	err = daddr_replace_check_locked(dn, id);
	if (err)
		goto out;
	t = dn->staged;
	old = daddr_live_locked(dn);

	/* Counters first, while failing still changes nothing: a key in
	 * both tables shares its counters (both entries may count into them
	 * until the old table's readers are gone), a new key gets new ones.
	 */
	list_for_each_entry(e, &t->entries, list) {
		prev = daddr_find_locked(old, &e->key);
		if (prev) {
			e->stats = prev->stats;
		} else {
			e->stats = daddr_stats_alloc();
			if (!e->stats) {
				err = -ENOMEM;
				goto undo;
			}
			e->owns_stats = true;
		}
		cond_resched();
	}
	/* Shared counters now belong to the new entries. */
	list_for_each_entry(e, &t->entries, list) {
		if (e->owns_stats)
			continue;
		prev = daddr_find_locked(old, &e->key);
		prev->owns_stats = false;
		e->owns_stats = true;
	}

	/* The old entries that kept their counters: those of keys gone. */
	dn->gone += daddr_table_packets(old);
	rcu_assign_pointer(dn->live, t);
	dn->staged = NULL;
	dn->staged_id = 0;
	dn->generation++;
	mutex_unlock(&dn->lock);
	daddr_table_retire(old);
	return 0;

undo:
	list_for_each_entry(e, &t->entries, list) {
		if (e->owns_stats)
			free_percpu(e->stats);
		e->stats = NULL;
		e->owns_stats = false;
	}
out:
	mutex_unlock(&dn->lock);
	return err;
}

int daddr_replace_abort(struct daddr_net *dn, u32 id)
{
	struct daddr_table *t;
	int err;

	mutex_lock(&dn->lock);
	err = daddr_replace_check_locked(dn, id);
	if (err) {
		mutex_unlock(&dn->lock);
		return err;
	}
	t = dn->staged;
	dn->staged = NULL;
	dn->staged_id = 0;
	mutex_unlock(&dn->lock);
	daddr_table_destroy(t);
	return 0;
}

/* A client that dies between BEGIN and COMMIT would otherwise leave its
 * staged table in memory until the next BEGIN or the namespace's end.
 */
void daddr_replace_release(struct daddr_net *dn, u32 portid)
{
	struct daddr_table *t = NULL;

	mutex_lock(&dn->lock);
	if (dn->staged && dn->staged_portid == portid) {
		t = dn->staged;
		dn->staged = NULL;
		dn->staged_id = 0;
	}
	mutex_unlock(&dn->lock);
	if (t)
		daddr_table_destroy(t);
}

/* Namespaces */

static int __net_init daddr_net_init(struct net *net)
{
	struct daddr_net *dn = daddr_net(net);
	struct daddr_table *t;
	int cpu;

	mutex_init(&dn->lock);
	dn->generation = 1;
	if (daddr_percpu_fails())
		return -ENOMEM;
	dn->totals = alloc_percpu_gfp(struct daddr_net_pcpu, GFP_KERNEL_ACCOUNT);
	if (!dn->totals)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(dn->totals, cpu)->syncp);
	t = daddr_table_alloc();
	if (!t) {
		free_percpu(dn->totals);
		return -ENOMEM;
	}
	RCU_INIT_POINTER(dn->live, t);
	return 0;
}

/* By the time a subsystem's exit runs, the namespace has no device left and
 * its netfilter hooks were unregistered before a grace period (pre_exit):
 * no packet can reach these tables, so they go at once.
 */
static void __net_exit daddr_net_exit(struct net *net)
{
	struct daddr_net *dn = daddr_net(net);

	daddr_table_destroy(rcu_dereference_protected(dn->live, true));
	RCU_INIT_POINTER(dn->live, NULL);
	if (dn->staged)
		daddr_table_destroy(dn->staged);
	dn->staged = NULL;
	free_percpu(dn->totals);
	mutex_destroy(&dn->lock);
}

static struct pernet_operations daddr_net_ops = {
	.init	= daddr_net_init,
	.exit	= daddr_net_exit,
	.id	= &daddr_net_id,
	.size	= sizeof(struct daddr_net),
};

int daddr_table_module_init(void)
{
	int err;

	daddr_entry_cache = kmem_cache_create("l3dsr_entry",
					      sizeof(struct daddr_entry), 0, 0,
					      NULL);
	if (!daddr_entry_cache)
		return -ENOMEM;
	/* Our own queue, so that unload can wait for exactly our frees. */
	daddr_wq = alloc_workqueue("l3dsr", 0, 0);
	if (!daddr_wq) {
		err = -ENOMEM;
		goto err_cache;
	}
	err = register_pernet_subsys(&daddr_net_ops);
	if (err)
		goto err_wq;
	return 0;

err_wq:
	destroy_workqueue(daddr_wq);
err_cache:
	kmem_cache_destroy(daddr_entry_cache);
	return err;
}

void daddr_table_module_exit(void)
{
	unregister_pernet_subsys(&daddr_net_ops);
	/* Entries in call_rcu, and tables whose rcu_work has not been
	 * queued yet; then the queued tables themselves.
	 */
	rcu_barrier();
	destroy_workqueue(daddr_wq);
	kmem_cache_destroy(daddr_entry_cache);
}
