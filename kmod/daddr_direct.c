// SPDX-License-Identifier: GPL-2.0
/*
 * The direct path: while a namespace is in L3DSR_MODE_DIRECT and its table
 * has entries of a family, the module has a netfilter hook at PRE_ROUTING
 * for that family, at the raw table's priority. That is where the
 * recommended --map rule runs (raw PREROUTING): after defragmentation,
 * before conntrack, so conntrack records client<->VIP as it does with the
 * rule. What it saves is the raw table itself: ipt_do_table's walk, which
 * every xtables target pays, was half of map mode's remaining cost.
 *
 * A hook per family, and only while there are entries: a namespace that
 * uses one family, or none yet, pays nothing for the other.
 */
#define pr_fmt(fmt) "DADDR: " fmt

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>

#include "daddr_direct.h"
#include "daddr_map.h"

static unsigned int daddr_direct_hook4(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	if (daddr_map_skb(daddr_net(state->net), skb, AF_INET))
		return NF_DROP;
	return NF_ACCEPT;
}

static unsigned int daddr_direct_hook6(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	if (daddr_map_skb(daddr_net(state->net), skb, AF_INET6))
		return NF_DROP;
	return NF_ACCEPT;
}

/* Indexed by family: [0] IPv4 (L3DSR_HOOK_IPV4), [1] IPv6. */
static const struct nf_hook_ops daddr_direct_ops[] = {
	{
		.hook		= daddr_direct_hook4,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_RAW,
	},
	{
		.hook		= daddr_direct_hook6,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_RAW,
	},
};

/* The bit of a hook goes up after it is registered and down before it is
 * unregistered: a --map rule steps aside only while the hook surely runs.
 * For a moment either way both may see a packet; the second then finds the
 * VIP as destination, which no entry has, and leaves it.
 */
static int daddr_direct_add_locked(struct net *net, struct daddr_net *dn,
				   unsigned int families)
{
	unsigned int i, bit;
	int err;

	for (i = 0; i < ARRAY_SIZE(daddr_direct_ops); i++) {
		bit = 1U << i;
		if (!(families & bit) || (dn->hooks & bit))
			continue;
		err = nf_register_net_hook(net, &daddr_direct_ops[i]);
		if (err)
			return err;
		WRITE_ONCE(dn->hooks, dn->hooks | bit);
	}
	return 0;
}

static void daddr_direct_del_locked(struct net *net, struct daddr_net *dn,
				    unsigned int families)
{
	unsigned int i, bit;

	for (i = 0; i < ARRAY_SIZE(daddr_direct_ops); i++) {
		bit = 1U << i;
		if (!(families & dn->hooks & bit))
			continue;
		WRITE_ONCE(dn->hooks, dn->hooks & ~bit);
		/* Waits for the packets inside the hook. */
		nf_unregister_net_hook(net, &daddr_direct_ops[i]);
	}
}

/* The hooks the live table and the mode call for, no more. */
static void daddr_direct_sync_locked(struct net *net, struct daddr_net *dn)
{
	unsigned int keep = 0;

	if (dn->mode == L3DSR_MODE_DIRECT)
		keep = daddr_live_families(dn);
	daddr_direct_del_locked(net, dn, dn->hooks & ~keep);
}

void daddr_direct_begin(struct daddr_net *dn)
{
	mutex_lock(&dn->direct_lock);
}

int daddr_direct_need(struct net *net, struct daddr_net *dn,
		      unsigned int families)
{
	if (dn->mode != L3DSR_MODE_DIRECT)
		return 0;
	return daddr_direct_add_locked(net, dn, families);
}

void daddr_direct_end(struct net *net, struct daddr_net *dn)
{
	daddr_direct_sync_locked(net, dn);
	mutex_unlock(&dn->direct_lock);
}

int daddr_direct_set_mode(struct net *net, struct daddr_net *dn, u8 mode)
{
	u8 old;
	int err = 0;

	mutex_lock(&dn->direct_lock);
	old = dn->mode;
	WRITE_ONCE(dn->mode, mode);
	if (mode == L3DSR_MODE_DIRECT) {
		err = daddr_direct_add_locked(net, dn,
					      daddr_live_families(dn));
		if (err)
			WRITE_ONCE(dn->mode, old);
	}
	daddr_direct_sync_locked(net, dn);
	mutex_unlock(&dn->direct_lock);
	return err;
}

static int __net_init daddr_direct_net_init(struct net *net)
{
	mutex_init(&daddr_net(net)->direct_lock);
	return 0;
}

/* Before the table's own exit (registered after it, so run before it):
 * the hooks must be gone before the table they read is freed.
 */
static void __net_exit daddr_direct_net_exit(struct net *net)
{
	struct daddr_net *dn = daddr_net(net);

	daddr_direct_del_locked(net, dn, dn->hooks);
	mutex_destroy(&dn->direct_lock);
}

static struct pernet_operations daddr_direct_net_ops = {
	.init	= daddr_direct_net_init,
	.exit	= daddr_direct_net_exit,
};

int daddr_direct_module_init(void)
{
	return register_pernet_subsys(&daddr_direct_net_ops);
}

/* Every namespace's hooks go, each after its packets have left it. */
void daddr_direct_module_exit(void)
{
	unregister_pernet_subsys(&daddr_direct_net_ops);
}
