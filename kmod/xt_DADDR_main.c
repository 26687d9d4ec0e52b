// SPDX-License-Identifier: GPL-2.0
/*
 * xt_DADDR: put the VIP back as destination on an L3 DSR real server.
 *
 * The director sends a client's packet to our own address (the RIP) and
 * marks it with a DSCP code that stands for the VIP. A rule such as
 *
 *   iptables -t raw -A PREROUTING -m dscp --dscp 1 -j DADDR --set-daddr VIP
 *
 * rewrites the destination back to the VIP before conntrack and routing see
 * the packet, so the socket bound to the VIP answers and conntrack records
 * client<->VIP, which is what the direct reply matches.
 */
#define pr_fmt(fmt) "DADDR: " fmt

#include <linux/module.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/ipv6.h>
#include <net/ip.h>

#include <linux/netfilter/xt_DADDR.h>

#include "compat.h"
#include "daddr_direct.h"
#include "daddr_genl.h"
#include "daddr_map.h"
#include "daddr_rewrite.h"
#include "daddr_table.h"

static unsigned int daddr_tg4(struct sk_buff *skb,
			      const struct xt_action_param *par)
{
	const struct xt_daddr_tginfo *info = par->targinfo;

	/* A packet we could not make writable is dropped rather than passed
	 * on to the RIP, where it would be answered from the wrong address.
	 */
	if (daddr_rewrite_ipv4(skb, info->daddr.ip))
		return NF_DROP;
	return XT_CONTINUE;
}

static unsigned int daddr_tg6(struct sk_buff *skb,
			      const struct xt_action_param *par)
{
	const struct xt_daddr_tginfo *info = par->targinfo;

	if (daddr_rewrite_ipv6(skb, &info->daddr.in6))
		return NF_DROP;
	return XT_CONTINUE;
}

/* raw PREROUTING runs before conntrack: the recommended place. mangle
 * PREROUTING and INPUT run after conntrack has recorded client->RIP, so
 * replies from the VIP miss the entry; they stay allowed because existing
 * iptables-daddr setups use them.
 */
static int daddr_tg_check_place(const struct xt_tgchk_param *par)
{
	unsigned int hooks = par->hook_mask;

	if (!strcmp(par->table, "raw") &&
	    !(hooks & ~(1U << NF_INET_PRE_ROUTING)))
		return 0;
	if (!strcmp(par->table, "mangle") &&
	    !(hooks & ~((1U << NF_INET_PRE_ROUTING) | (1U << NF_INET_LOCAL_IN))))
		return 0;

	pr_info_ratelimited("not valid in table %s (hook mask 0x%x): use table raw chain PREROUTING, or table mangle chain PREROUTING or INPUT\n",
			    par->table, hooks);
	return -EINVAL;
}

static int daddr_tg_check(const struct xt_tgchk_param *par)
{
	const struct xt_daddr_tginfo *info = par->targinfo;
	const union nf_inet_addr *a = &info->daddr;
	int ret;

	ret = daddr_tg_check_place(par);
	if (ret)
		return ret;

	if (par->family == NFPROTO_IPV4) {
		/* iptables-daddr zeroed the rest of the union; anything else
		 * there means an IPv6 address reached an IPv4 rule.
		 */
		if (a->all[1] || a->all[2] || a->all[3]) {
			pr_info_ratelimited("--set-daddr is not an IPv4 address: use ip6tables for an IPv6 VIP\n");
			return -EINVAL;
		}
		if (ipv4_is_zeronet(a->ip) || ipv4_is_multicast(a->ip) ||
		    ipv4_is_lbcast(a->ip)) {
			pr_info_ratelimited("--set-daddr %pI4 is not a unicast address: give the VIP\n",
					    &a->ip);
			return -EINVAL;
		}
		return 0;
	}

	if (ipv6_addr_any(&a->in6) || ipv6_addr_is_multicast(&a->in6) ||
	    ipv6_addr_v4mapped(&a->in6)) {
		pr_info_ratelimited("--set-daddr %pI6c is not a unicast IPv6 address: give the VIP (ip6tables), or use iptables for an IPv4 VIP\n",
				    &a->in6);
		return -EINVAL;
	}
	return 0;
}

/* Map mode: the VIP comes from the table of the packet's namespace, keyed
 * by its DSCP and destination (the local address). In direct mode the
 * module's own hook has done that already, before this rule.
 */
static unsigned int daddr_tg_map(struct sk_buff *skb,
				 const struct xt_action_param *par, u8 family)
{
	struct daddr_net *dn = daddr_net(xt_net(par));

	if (daddr_direct_active(dn, family))
		return XT_CONTINUE;
	if (daddr_map_skb(dn, skb, family))
		return NF_DROP;
	return XT_CONTINUE;
}

/* Revision 1: map mode, or without XT_DADDR_F_MAP revision 0's fixed VIP. */
static unsigned int daddr_tg4_v1(struct sk_buff *skb,
				 const struct xt_action_param *par)
{
	const struct xt_daddr_tginfo_v1 *info = par->targinfo;

	if (!(info->flags & XT_DADDR_F_MAP))
		return daddr_tg4(skb, par);
	return daddr_tg_map(skb, par, AF_INET);
}

static unsigned int daddr_tg6_v1(struct sk_buff *skb,
				 const struct xt_action_param *par)
{
	const struct xt_daddr_tginfo_v1 *info = par->targinfo;

	if (!(info->flags & XT_DADDR_F_MAP))
		return daddr_tg6(skb, par);
	return daddr_tg_map(skb, par, AF_INET6);
}

static int daddr_tg_check_v1(const struct xt_tgchk_param *par)
{
	const struct xt_daddr_tginfo_v1 *info = par->targinfo;
	const union nf_inet_addr *a = &info->daddr;
	int ret;

	/* Revision 1 with flags 0 is revision 0 (see the uapi header): the
	 * revision 0 functions read the same leading daddr.
	 */
	BUILD_BUG_ON(offsetof(struct xt_daddr_tginfo_v1, daddr) !=
		     offsetof(struct xt_daddr_tginfo, daddr));

	/* Unknown bits would be a feature this module does not have. */
	if (info->flags & ~XT_DADDR_F_ALL) {
		pr_info_ratelimited("unknown flags 0x%x: this module is older than the iptables extension, update it\n",
				    info->flags);
		return -EINVAL;
	}
	if (!(info->flags & XT_DADDR_F_MAP))
		return daddr_tg_check(par);

	ret = daddr_tg_check_place(par);
	if (ret)
		return ret;
	if (a->all[0] || a->all[1] || a->all[2] || a->all[3]) {
		pr_info_ratelimited("--map takes its VIPs from the table: give either --map or --set-daddr, not both\n");
		return -EINVAL;
	}
	return 0;
}

static struct xt_target daddr_tg_reg[] __read_mostly = {
	{
		.name		= XT_DADDR_NAME,
		.revision	= 0,
		.family		= NFPROTO_IPV4,
		.hooks		= (1 << NF_INET_PRE_ROUTING) |
				  (1 << NF_INET_LOCAL_IN),
		.target		= daddr_tg4,
		.targetsize	= sizeof(struct xt_daddr_tginfo),
		.checkentry	= daddr_tg_check,
		.me		= THIS_MODULE,
	},
#if IS_ENABLED(CONFIG_IP6_NF_IPTABLES)
	{
		.name		= XT_DADDR_NAME,
		.revision	= 0,
		.family		= NFPROTO_IPV6,
		.hooks		= (1 << NF_INET_PRE_ROUTING) |
				  (1 << NF_INET_LOCAL_IN),
		.target		= daddr_tg6,
		.targetsize	= sizeof(struct xt_daddr_tginfo),
		.checkentry	= daddr_tg_check,
		.me		= THIS_MODULE,
	},
#endif
	{
		.name		= XT_DADDR_NAME,
		.revision	= 1,
		.family		= NFPROTO_IPV4,
		.hooks		= (1 << NF_INET_PRE_ROUTING) |
				  (1 << NF_INET_LOCAL_IN),
		.target		= daddr_tg4_v1,
		.targetsize	= sizeof(struct xt_daddr_tginfo_v1),
		.checkentry	= daddr_tg_check_v1,
		.me		= THIS_MODULE,
	},
#if IS_ENABLED(CONFIG_IP6_NF_IPTABLES)
	{
		.name		= XT_DADDR_NAME,
		.revision	= 1,
		.family		= NFPROTO_IPV6,
		.hooks		= (1 << NF_INET_PRE_ROUTING) |
				  (1 << NF_INET_LOCAL_IN),
		.target		= daddr_tg6_v1,
		.targetsize	= sizeof(struct xt_daddr_tginfo_v1),
		.checkentry	= daddr_tg_check_v1,
		.me		= THIS_MODULE,
	},
#endif
};

/* The tables exist before anything can reach them: the direct path's
 * hooks, the genl family (which writes the tables and registers the hooks)
 * and the targets (which read them) come after, and go first.
 */
static int __init daddr_tg_init(void)
{
	int err;

	err = daddr_table_module_init();
	if (err)
		return err;
	err = daddr_direct_module_init();
	if (err)
		goto err_table;
	err = daddr_genl_init();
	if (err)
		goto err_direct;
	err = xt_register_targets(daddr_tg_reg, ARRAY_SIZE(daddr_tg_reg));
	if (err)
		goto err_genl;
	return 0;

err_genl:
	daddr_genl_exit();
err_direct:
	daddr_direct_module_exit();
err_table:
	daddr_table_module_exit();
	return err;
}

static void __exit daddr_tg_exit(void)
{
	xt_unregister_targets(daddr_tg_reg, ARRAY_SIZE(daddr_tg_reg));
	daddr_genl_exit();
	daddr_direct_module_exit();
	daddr_table_module_exit();
}

module_init(daddr_tg_init);
module_exit(daddr_tg_exit);

MODULE_DESCRIPTION("Xtables: L3 DSR destination rewrite to the VIP, with checksum fix-up");
MODULE_AUTHOR("The l3dsr authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(L3DSR_VERSION);
MODULE_ALIAS("ipt_DADDR");
MODULE_ALIAS("ip6t_DADDR");
