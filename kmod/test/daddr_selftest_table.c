// SPDX-License-Identifier: GPL-2.0
/*
 * The map table's lookup order and its any-DSCP filter, against the real
 * table code (compiled in by wrap_daddr_table.c) in this module's own
 * per-namespace table of init_net.
 *
 *  - each of the three lookups, for IPv4 and IPv6: (DSCP, local), then
 *    (DSCP, any local), then (any DSCP, local), first found wins; a clash
 *    (one address keyed as (10, local) and as (any, local), different VIPs)
 *    gives code 10 the first and code 11 the second; (0, any local)
 *    shadows (any, local) for code 0 only;
 *  - the filter: an address with no any-DSCP entry has its bit clear (so
 *    daddr_lookup() does no third hash lookup for it), two keys sharing a
 *    bit keep it set until both are gone, deletes and family flushes clear
 *    bits again, and a committed replace brings its own filter;
 *  - DSCP_SET: an NLM_F_REPLACE add with the same VIP and another DSCP_SET
 *    replaces the entry; the same value again changes nothing.
 */
#define pr_fmt(fmt) "daddr_selftest: " fmt

#include <linux/module.h>
#include <linux/rcupdate.h>
#include <net/net_namespace.h>

#include <linux/l3dsr.h>

#include "../daddr_table.h"
#include "daddr_selftest.h"

struct stt {
	struct daddr_net *dn;
	u8 fam;
	char why[160];
};

#define stt_why(x, ...) (snprintf((x)->why, sizeof((x)->why), __VA_ARGS__), -1)

/* Local address @n (below 2^24) of family @x->fam, 10.0.0.0 + n or
 * fd00:20::n; or VIP @n (below 256), 192.0.2.n or 2001:db8::n.
 */
static void stt_ip(const struct stt *x, bool vip, u32 n,
		   union nf_inet_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (x->fam == AF_INET) {
		a->ip = htonl((vip ? 0xc0000200 : 0x0a000000) | n);
		return;
	}
	a->all[0] = htonl(vip ? 0x20010db8 : 0xfd000020);
	a->all[3] = htonl(n);
}

#define stt_addr(x, n, a)	stt_ip(x, false, n, a)
#define stt_vip(x, n, a)	stt_ip(x, true, n, a)

/* Add (@dscp, local address @local or any when 0) -> VIP @vip. */
static int stt_add(struct stt *x, u8 dscp, u32 local, u32 vip, u8 set,
		   bool replace)
{
	union nf_inet_addr l;
	struct daddr_value v = { .dscp_set = set };
	struct daddr_key k;
	int err;

	stt_addr(x, local, &l);
	stt_vip(x, vip, &v.vip);
	daddr_key_init(&k, x->fam, dscp, local ? &l : NULL);
	err = daddr_map_add(x->dn, &k, &v, replace);
	if (err)
		return stt_why(x, "add dscp %u local %u vip %u: %d", dscp, local,
			       vip, err);
	return 0;
}

static int stt_del(struct stt *x, u8 dscp, u32 local)
{
	union nf_inet_addr l;
	struct daddr_key k;

	stt_addr(x, local, &l);
	daddr_key_init(&k, x->fam, dscp, local ? &l : NULL);
	if (daddr_map_del(x->dn, &k))
		return stt_why(x, "del dscp %u local %u failed", dscp, local);
	return 0;
}

/* A packet with @dscp to local address @local must get VIP @want (0: no
 * entry).
 */
static int stt_expect(struct stt *x, u8 dscp, u32 local, u32 want)
{
	const struct daddr_entry *e;
	union nf_inet_addr l, v;
	bool ok;

	stt_addr(x, local, &l);
	stt_vip(x, want, &v);
	rcu_read_lock();
	e = daddr_lookup(x->dn, x->fam, dscp, &l);
	ok = want ? e && !memcmp(&e->val.vip, &v, sizeof(v)) : !e;
	rcu_read_unlock();
	if (!ok)
		return stt_why(x, "packet with DSCP %u to address %u: want VIP %u, got %s",
			       dscp, local, want, e ? "another VIP" : "no entry");
	return 0;
}

/* Is the filter bit of local address @local set? */
static bool stt_maybe(struct stt *x, u32 local)
{
	union nf_inet_addr l;
	bool r;

	stt_addr(x, local, &l);
	mutex_lock(&x->dn->lock);
	r = daddr_any_maybe(daddr_live_locked(x->dn), x->fam, &l);
	mutex_unlock(&x->dn->lock);
	return r;
}

static u32 stt_hash(const struct stt *x, u32 local)
{
	union nf_inet_addr l;

	stt_addr(x, local, &l);
	return daddr_any_hash(x->fam, &l);
}

static int stt_lookup_order(struct stt *x)
{
	/* Address 1: (10, 1) -> 1 and (any, 1) -> 3, the clash. Address 2:
	 * (any, 2) -> 4, shadowed for code 10 by (10, any) -> 2.
	 */
	return stt_add(x, 10, 1, 1, DADDR_DSCP_KEEP, false) ?:
	       stt_add(x, 10, 0, 2, DADDR_DSCP_KEEP, false) ?:
	       stt_add(x, L3DSR_DSCP_ANY, 1, 3, DADDR_DSCP_KEEP, false) ?:
	       stt_add(x, L3DSR_DSCP_ANY, 2, 4, DADDR_DSCP_KEEP, false) ?:
	       stt_expect(x, 10, 1, 1) ?:	/* 1. (DSCP, local) */
	       stt_expect(x, 10, 2, 2) ?:	/* 2. (DSCP, any local) */
	       stt_expect(x, 10, 5, 2) ?:
	       stt_expect(x, 11, 1, 3) ?:	/* 3. (any DSCP, local) */
	       stt_expect(x, 11, 2, 4) ?:
	       stt_expect(x, 0, 1, 3) ?:
	       stt_expect(x, 11, 5, 0) ?:	/* none */
	       stt_add(x, 0, 0, 5, DADDR_DSCP_KEEP, false) ?:
	       stt_expect(x, 0, 1, 5) ?:	/* (0, any) shadows (any, 1) */
	       stt_expect(x, 1, 1, 3) ?:
	       stt_del(x, 10, 1) ?:
	       stt_expect(x, 10, 1, 2) ?:	/* now (10, any) */
	       stt_del(x, 10, 0) ?:
	       stt_expect(x, 10, 1, 3);		/* now (any, 1) */
}

/* An address whose filter bit is another's, and one whose bit is its own. */
static int stt_find(struct stt *x, u32 of, bool same, u32 *out)
{
	u32 n;

	for (n = 100; n < 1 << 22; n++) {
		if ((stt_hash(x, n) == stt_hash(x, of)) == same) {
			*out = n;
			return 0;
		}
	}
	return stt_why(x, "test bug: no address with %s hash as %u",
		       same ? "the same" : "another", of);
}

static int stt_filter(struct stt *x)
{
	u32 twin, other;

	if (stt_find(x, 1, true, &twin) || stt_find(x, 1, false, &other))
		return -1;
	if (stt_maybe(x, 1))
		return stt_why(x, "bit of address 1 set in an empty table");
	if (stt_add(x, L3DSR_DSCP_ANY, 1, 1, DADDR_DSCP_KEEP, false) ||
	    stt_add(x, 20, other, 2, DADDR_DSCP_KEEP, false))
		return -1;
	if (!stt_maybe(x, 1))
		return stt_why(x, "bit of address 1 clear with (any, 1) in the table");
	if (stt_maybe(x, other))
		return stt_why(x, "bit of address %u set: it has no any-DSCP entry (a DSCP entry must not set it)",
			       other);
	if (stt_add(x, L3DSR_DSCP_ANY, twin, 2, DADDR_DSCP_KEEP, false) ||
	    stt_del(x, L3DSR_DSCP_ANY, 1))
		return -1;
	if (!stt_maybe(x, twin))
		return stt_why(x, "deleting (any, 1) cleared the bit address %u shares with it",
			       twin);
	if (stt_expect(x, 7, twin, 2) || stt_expect(x, 7, 1, 0) ||
	    stt_del(x, L3DSR_DSCP_ANY, twin))
		return -1;
	if (stt_maybe(x, 1) || stt_maybe(x, twin))
		return stt_why(x, "the bit stays set after its last any-DSCP entry went");
	if (stt_add(x, L3DSR_DSCP_ANY, 1, 1, DADDR_DSCP_KEEP, false) ||
	    daddr_map_flush(x->dn, x->fam))
		return stt_why(x, "add, flush failed");
	if (stt_maybe(x, 1))
		return stt_why(x, "the bit stays set after a flush of the family");
	return 0;
}

/* A committed replace: the staged table builds its own filter. */
static int stt_replace(struct stt *x)
{
	struct daddr_value v = { .dscp_set = DADDR_DSCP_KEEP };
	union nf_inet_addr l;
	struct daddr_key k;
	u32 id;
	int err;

	err = stt_add(x, L3DSR_DSCP_ANY, 1, 1, DADDR_DSCP_KEEP, false) ?:
	      daddr_replace_begin(x->dn, 1, &id);
	if (err)
		return stt_why(x, "begin: %d", err);
	stt_addr(x, 2, &l);
	stt_vip(x, 2, &v.vip);
	daddr_key_init(&k, x->fam, L3DSR_DSCP_ANY, &l);
	mutex_lock(&x->dn->lock);
	err = daddr_replace_insert_locked(x->dn, &k, &v);
	mutex_unlock(&x->dn->lock);
	err = err ?: daddr_replace_commit(x->dn, id);
	if (err)
		return stt_why(x, "stage, commit: %d", err);
	if (stt_maybe(x, 1) && stt_hash(x, 1) != stt_hash(x, 2))
		return stt_why(x, "the committed table has the old table's bit of address 1");
	if (!stt_maybe(x, 2))
		return stt_why(x, "the committed table has no bit for address 2");
	return stt_expect(x, 3, 2, 2) ?: stt_expect(x, 3, 1, 0);
}

/* The entry of (any DSCP, address 1), and its DSCP_SET in @set. */
static const void *stt_any1(struct stt *x, u8 *set)
{
	const struct daddr_entry *e;
	union nf_inet_addr l;
	struct daddr_key k;

	stt_addr(x, 1, &l);
	daddr_key_init(&k, x->fam, L3DSR_DSCP_ANY, &l);
	mutex_lock(&x->dn->lock);
	e = daddr_find_locked(daddr_live_locked(x->dn), &k);
	*set = e ? e->val.dscp_set : 0xee;
	mutex_unlock(&x->dn->lock);
	return e;
}

static int stt_dscp_set(struct stt *x)
{
	const void *e1, *e2;
	u8 got;

	if (stt_add(x, L3DSR_DSCP_ANY, 1, 1, DADDR_DSCP_KEEP, false) ||
	    stt_add(x, L3DSR_DSCP_ANY, 1, 1, 0, true))
		return -1;
	e1 = stt_any1(x, &got);
	if (got != 0)
		return stt_why(x, "DSCP_SET after a replace with the same VIP and DSCP_SET 0: %u (0xff: kept the old entry)",
			       got);
	if (stt_add(x, L3DSR_DSCP_ANY, 1, 1, 0, true))
		return -1;
	e2 = stt_any1(x, &got);
	if (e1 != e2 || got != 0)
		return stt_why(x, "a replace with the same VIP and DSCP_SET swapped the entry (DSCP_SET %u)",
			       got);
	return 0;
}

/* Whether replace @id is still staged after socket @portid closed. */
static int stt_after_close(struct stt *x, u32 id, u32 portid)
{
	int err;

	daddr_replace_release(x->dn, portid);
	mutex_lock(&x->dn->lock);
	err = daddr_replace_check_locked(x->dn, id);
	mutex_unlock(&x->dn->lock);
	return err;
}

/* Another socket's close leaves the replace; its own socket's frees it. */
static int stt_release(struct stt *x)
{
	u32 id;
	int err;

	err = daddr_replace_begin(x->dn, 7, &id);
	if (err)
		return stt_why(x, "begin: %d", err);
	err = stt_after_close(x, id, 8);
	if (err)
		return stt_why(x, "portid 8's close dropped portid 7's replace: %d", err);
	err = stt_after_close(x, id, 7);
	if (err != -ESTALE || x->dn->staged)
		return stt_why(x, "the replace outlived its socket: %d", err);
	return 0;
}

struct stt_case {
	const char *name;
	int (*run)(struct stt *x);
};

static const struct stt_case stt_cases[] = {
	{ "lookup-order", stt_lookup_order },
	{ "any-filter", stt_filter },
	{ "any-filter-replace", stt_replace },
	{ "dscp-set-replace", stt_dscp_set },
	{ "replace-release", stt_release },
};

void st_table_cases(unsigned int *pass, unsigned int *fail)
{
	static const u8 fams[] = { AF_INET, AF_INET6 };
	struct stt *x;
	unsigned int i, f;
	int err;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	err = x ? daddr_table_module_init() : -ENOMEM;
	if (err) {
		pr_info("FAIL table-setup: %d\n", err);
		(*fail)++;
		kfree(x);
		return;
	}
	x->dn = daddr_net(&init_net);
	for (f = 0; f < ARRAY_SIZE(fams); f++) {
		x->fam = fams[f];
		for (i = 0; i < ARRAY_SIZE(stt_cases); i++) {
			const char *v = x->fam == AF_INET ? "v4" : "v6";

			x->why[0] = 0;
			daddr_map_flush(x->dn, 0);
			if (stt_cases[i].run(x)) {
				(*fail)++;
				pr_info("FAIL table-%s-%s: %s\n", v,
					stt_cases[i].name, x->why);
			} else {
				(*pass)++;
				pr_info("PASS table-%s-%s\n", v,
					stt_cases[i].name);
			}
		}
	}
	daddr_table_module_exit();
	kfree(x);
}
