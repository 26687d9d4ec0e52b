// SPDX-License-Identifier: GPL-2.0
/*
 * The "l3dsr" generic netlink family: add, delete, get, dump and flush map
 * mode's table entries, replace the whole table atomically, read the
 * namespace's totals. The ABI and its attribute tree are in linux/l3dsr.h.
 *
 * Every rejection carries an extack message, pointing at the attribute at
 * fault where there is one, so that the client can print what to fix.
 */
#define pr_fmt(fmt) "DADDR: " fmt

#include <linux/module.h>
#include <linux/in6.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <net/ip.h>

#include <linux/l3dsr.h>

#include "compat.h"
#include "daddr_direct.h"
#include "daddr_genl.h"
#include "daddr_table.h"

/* An attribute only the kernel sends: a request that has it is refused. */
#define DADDR_REPLY_ONLY(msg) \
	{ .type = NLA_REJECT, .reject_message = (msg) }

static const struct nla_policy daddr_entry_policy[L3DSR_ENTRY_A_MAX + 1] = {
	[L3DSR_ENTRY_A_FAMILY]	= { .type = NLA_U8 },
	/* 0..63 or L3DSR_DSCP_ANY: daddr_parse_dscp() checks it, with a
	 * message that names the value.
	 */
	[L3DSR_ENTRY_A_DSCP]	= { .type = NLA_U8 },
	/* Their length depends on FAMILY: daddr_parse_addr() checks it,
	 * with a message that says which family the bytes look like.
	 */
	[L3DSR_ENTRY_A_LOCAL]	= { .type = NLA_BINARY },
	[L3DSR_ENTRY_A_VIP]	= { .type = NLA_BINARY },
	[L3DSR_ENTRY_A_PACKETS]	=
		DADDR_REPLY_ONLY("PACKETS is a counter in replies: do not send it"),
	[L3DSR_ENTRY_A_BYTES]	=
		DADDR_REPLY_ONLY("BYTES is a counter in replies: do not send it"),
	[L3DSR_ENTRY_A_DSCP_SET] = NLA_POLICY_MAX(NLA_U8, L3DSR_DSCP_MAX),
};

static const struct nla_policy daddr_policy[L3DSR_A_MAX + 1] = {
	[L3DSR_A_ENTRY]		= NLA_POLICY_NESTED(daddr_entry_policy),
	[L3DSR_A_REPLACE_ID]	= { .type = NLA_U32 },
	[L3DSR_A_GENERATION]	= DADDR_REPLY_ONLY("GENERATION is only sent in replies"),
	[L3DSR_A_STATS]		= DADDR_REPLY_ONLY("STATS is only sent in replies"),
	[L3DSR_A_FAMILY]	= { .type = NLA_U8 },
	[L3DSR_A_MODE]		= { .type = NLA_U8 },
	[L3DSR_A_HOOKS]		= DADDR_REPLY_ONLY("HOOKS is only sent in replies"),
};

static struct genl_family daddr_family;

struct daddr_req {
	struct daddr_key key;
	struct daddr_value val;
};

static unsigned int daddr_addr_len(u8 family)
{
	return family == AF_INET ? sizeof(struct in_addr) :
				   sizeof(struct in6_addr);
}

static int daddr_check_family(const struct nlattr *attr, u8 family,
			      struct netlink_ext_ack *extack)
{
	if (family == AF_INET || family == AF_INET6)
		return 0;
	NL_SET_ERR_MSG_ATTR(extack, attr,
			    "FAMILY must be AF_INET (2) or AF_INET6 (10)");
	return -EAFNOSUPPORT;
}

/* @vip: the attribute is the VIP, else the local address of the key. */
static int daddr_parse_addr(const struct nlattr *attr, u8 family, bool vip,
			    union nf_inet_addr *out,
			    struct netlink_ext_ack *extack)
{
	unsigned int want = daddr_addr_len(family);
	unsigned int len = nla_len(attr);

	if (len != want) {
		if (family == AF_INET && len == sizeof(struct in6_addr)) {
			if (vip)
				NL_SET_ERR_MSG_ATTR(extack, attr,
						    "family mismatch: VIP is an IPv6 address (16 bytes) but FAMILY is AF_INET");
			else
				NL_SET_ERR_MSG_ATTR(extack, attr,
						    "family mismatch: LOCAL is an IPv6 address (16 bytes) but FAMILY is AF_INET");
		} else if (family == AF_INET6 && len == sizeof(struct in_addr)) {
			if (vip)
				NL_SET_ERR_MSG_ATTR(extack, attr,
						    "family mismatch: VIP is an IPv4 address (4 bytes) but FAMILY is AF_INET6");
			else
				NL_SET_ERR_MSG_ATTR(extack, attr,
						    "family mismatch: LOCAL is an IPv4 address (4 bytes) but FAMILY is AF_INET6");
		} else {
			if (vip)
				NL_SET_ERR_MSG_ATTR(extack, attr,
						    "VIP must be 4 bytes for AF_INET or 16 bytes for AF_INET6");
			else
				NL_SET_ERR_MSG_ATTR(extack, attr,
						    "LOCAL must be 4 bytes for AF_INET or 16 bytes for AF_INET6");
		}
		return -EINVAL;
	}

	memset(out, 0, sizeof(*out));
	nla_memcpy(out, attr, want);

	if (family == AF_INET6 && ipv6_addr_v4mapped(&out->in6)) {
		if (vip)
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "family mismatch: VIP is an IPv4-mapped IPv6 address; use FAMILY AF_INET with the IPv4 address");
		else
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "family mismatch: LOCAL is an IPv4-mapped IPv6 address; use FAMILY AF_INET with the IPv4 address");
		return -EINVAL;
	}

	if (!vip) {
		/* All zeroes is how the table spells "any": accepting it
		 * here would make two spellings of one key.
		 */
		if ((family == AF_INET && !out->ip) ||
		    (family == AF_INET6 && ipv6_addr_any(&out->in6))) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "LOCAL is the unspecified address: leave LOCAL out to match any local address");
			return -EINVAL;
		}
		return 0;
	}

	if (family == AF_INET ?
	    ipv4_is_zeronet(out->ip) || ipv4_is_multicast(out->ip) ||
	    ipv4_is_lbcast(out->ip) :
	    ipv6_addr_any(&out->in6) || ipv6_addr_is_multicast(&out->in6)) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "VIP must be a unicast address (not unspecified, multicast or broadcast)");
		return -EINVAL;
	}
	return 0;
}

/* The key's DSCP: a code, or "any" for addr mode. An any-DSCP key without
 * a local address would take every packet of its family, so it needs one.
 */
static int daddr_parse_dscp(const struct nlattr *attr, bool has_local,
			    u8 *dscp, struct netlink_ext_ack *extack)
{
	*dscp = nla_get_u8(attr);
	if (*dscp > L3DSR_DSCP_MAX && *dscp != L3DSR_DSCP_ANY) {
		DADDR_SET_ERR_MSG_FMT_ATTR(extack, attr,
					   "DSCP %u: use 0..63, or 255 (any) with LOCAL",
					   "DSCP out of range: use 0..63, or 255 (any) with LOCAL",
					   *dscp);
		return -ERANGE;
	}
	if (*dscp == L3DSR_DSCP_ANY && !has_local) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "an any-DSCP entry needs LOCAL: without it, it would capture all traffic");
		return -EINVAL;
	}
	return 0;
}

/* Attributes of the value that DEL and GET, which name a key only, refuse
 * rather than ignore.
 */
static int daddr_no_value(struct nlattr **tb, struct netlink_ext_ack *extack)
{
	if (tb[L3DSR_ENTRY_A_VIP]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[L3DSR_ENTRY_A_VIP],
				    "VIP is not part of the key: leave it out of delete and get");
		return -EINVAL;
	}
	if (tb[L3DSR_ENTRY_A_DSCP_SET]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[L3DSR_ENTRY_A_DSCP_SET],
				    "DSCP_SET is not part of the key: leave it out of delete and get");
		return -EINVAL;
	}
	return 0;
}

/* One L3DSR_A_ENTRY: the key, and the value when @need_vip (ADD). */
static int daddr_parse_entry(struct nlattr *nest, bool need_vip,
			     struct daddr_req *req,
			     struct netlink_ext_ack *extack)
{
	struct nlattr *tb[L3DSR_ENTRY_A_MAX + 1];
	union nf_inet_addr local;
	u8 family, dscp;
	int err;

	err = nla_parse_nested(tb, L3DSR_ENTRY_A_MAX, nest, daddr_entry_policy,
			       extack);
	if (err)
		return err;

	if (!tb[L3DSR_ENTRY_A_FAMILY]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "ENTRY needs FAMILY (AF_INET or AF_INET6)");
		NL_SET_ERR_ATTR_MISS(extack, nest, L3DSR_ENTRY_A_FAMILY);
		return -EINVAL;
	}
	family = nla_get_u8(tb[L3DSR_ENTRY_A_FAMILY]);
	err = daddr_check_family(tb[L3DSR_ENTRY_A_FAMILY], family, extack);
	if (err)
		return err;

	if (!tb[L3DSR_ENTRY_A_DSCP]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "ENTRY needs DSCP (0..63, or 255 for any with LOCAL)");
		NL_SET_ERR_ATTR_MISS(extack, nest, L3DSR_ENTRY_A_DSCP);
		return -EINVAL;
	}
	err = daddr_parse_dscp(tb[L3DSR_ENTRY_A_DSCP],
			       tb[L3DSR_ENTRY_A_LOCAL], &dscp, extack);
	if (err)
		return err;

	if (tb[L3DSR_ENTRY_A_LOCAL]) {
		err = daddr_parse_addr(tb[L3DSR_ENTRY_A_LOCAL], family, false,
				       &local, extack);
		if (err)
			return err;
	}
	daddr_key_init(&req->key, family, dscp,
		       tb[L3DSR_ENTRY_A_LOCAL] ? &local : NULL);

	if (!need_vip)
		return daddr_no_value(tb, extack);
	if (!tb[L3DSR_ENTRY_A_VIP]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "ENTRY needs VIP");
		NL_SET_ERR_ATTR_MISS(extack, nest, L3DSR_ENTRY_A_VIP);
		return -EINVAL;
	}
	req->val.dscp_set = DADDR_DSCP_KEEP;
	if (tb[L3DSR_ENTRY_A_DSCP_SET])
		req->val.dscp_set = nla_get_u8(tb[L3DSR_ENTRY_A_DSCP_SET]);
	return daddr_parse_addr(tb[L3DSR_ENTRY_A_VIP], family, true,
				&req->val.vip, extack);
}

static struct nlattr *daddr_attrs(const struct genl_info *info, int *len)
{
	*len = nlmsg_attrlen(info->nlhdr, GENL_HDRLEN);
	return nlmsg_attrdata(info->nlhdr, GENL_HDRLEN);
}

/* ADD, DEL and GET take exactly one ENTRY: a second one would otherwise be
 * silently ignored (info->attrs keeps the last).
 */
static struct nlattr *daddr_one_entry(struct genl_info *info)
{
	struct nlattr *attr, *first = NULL;
	int len, rem;

	nla_for_each_attr(attr, daddr_attrs(info, &len), len, rem) {
		if (nla_type(attr) != L3DSR_A_ENTRY)
			continue;
		if (first) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "one ENTRY per message: use REPLACE_ADD for many");
			return ERR_PTR(-EINVAL);
		}
		first = attr;
	}
	if (!first) {
		NL_SET_ERR_MSG_MOD(info->extack, "missing ENTRY");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, L3DSR_A_ENTRY);
		return ERR_PTR(-EINVAL);
	}
	return first;
}

static int daddr_parse_one(struct genl_info *info, bool need_vip,
			   struct daddr_req *req, struct nlattr **nest)
{
	*nest = daddr_one_entry(info);
	if (IS_ERR(*nest))
		return PTR_ERR(*nest);
	return daddr_parse_entry(*nest, need_vip, req, info->extack);
}

static void daddr_table_full(struct netlink_ext_ack *extack,
			     const struct nlattr *attr)
{
	NL_SET_ERR_MSG_ATTR(extack, attr,
			    "table full: the namespace holds the most entries allowed (module parameter max_entries, at most 1048576)");
}

static void daddr_no_hook(struct netlink_ext_ack *extack)
{
	NL_SET_ERR_MSG_MOD(extack,
			   "could not register the direct path's netfilter hook (out of memory?); nothing was changed");
}

static int daddr_nl_map_add(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct daddr_net *dn = daddr_net(net);
	bool replace = info->nlhdr->nlmsg_flags & NLM_F_REPLACE;
	struct daddr_req req;
	struct nlattr *nest;
	int err;

	err = daddr_parse_one(info, true, &req, &nest);
	if (err)
		return err;
	daddr_direct_begin(dn);
	err = daddr_direct_need(net, dn, daddr_hook_bit(req.key.family));
	if (err) {
		daddr_direct_end(net, dn);
		daddr_no_hook(info->extack);
		return err;
	}
	err = daddr_map_add(dn, &req.key, &req.val, replace);
	daddr_direct_end(net, dn);
	switch (err) {
	case 0:
		break;
	case -EEXIST:
		NL_SET_ERR_MSG_ATTR(info->extack, nest,
				    "an entry with this key exists: use replace (NLM_F_REPLACE) to change its VIP or DSCP_SET");
		break;
	case -ENOSPC:
		daddr_table_full(info->extack, nest);
		break;
	default:
		NL_SET_ERR_MSG_MOD(info->extack,
				   "could not insert the entry (out of memory?)");
	}
	return err;
}

static int daddr_nl_map_del(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct daddr_net *dn = daddr_net(net);
	struct daddr_req req;
	struct nlattr *nest;
	int err;

	err = daddr_parse_one(info, false, &req, &nest);
	if (err)
		return err;
	/* Removing registers nothing; end drops a hook left without entries. */
	daddr_direct_begin(dn);
	err = daddr_map_del(dn, &req.key);
	daddr_direct_end(net, dn);
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, nest, "no entry with this key");
	return err;
}

/* The start of a reply to @info, or an ERR_PTR. */
static struct sk_buff *daddr_reply_new(struct genl_info *info, u8 cmd,
				       void **hdr)
{
	struct sk_buff *msg;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "out of memory for the reply; nothing was changed");
		return ERR_PTR(-ENOMEM);
	}
	*hdr = genlmsg_put_reply(msg, info, &daddr_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG_MOD(info->extack, "no room for the reply's header");
		return ERR_PTR(-EMSGSIZE);
	}
	return msg;
}

static int daddr_put_entry(struct sk_buff *skb, const struct daddr_entry *e)
{
	unsigned int len = daddr_addr_len(e->key.family);
	struct daddr_counters c;
	struct nlattr *nest;

	daddr_counters_read(e, &c);
	nest = nla_nest_start(skb, L3DSR_A_ENTRY);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u8(skb, L3DSR_ENTRY_A_FAMILY, e->key.family) ||
	    nla_put_u8(skb, L3DSR_ENTRY_A_DSCP, e->key.dscp) ||
	    (!daddr_key_is_any(&e->key) &&
	     nla_put(skb, L3DSR_ENTRY_A_LOCAL, len, &e->key.local)) ||
	    nla_put(skb, L3DSR_ENTRY_A_VIP, len, &e->val.vip) ||
	    (e->val.dscp_set != DADDR_DSCP_KEEP &&
	     nla_put_u8(skb, L3DSR_ENTRY_A_DSCP_SET, e->val.dscp_set)) ||
	    nla_put_u64_64bit(skb, L3DSR_ENTRY_A_PACKETS, c.packets,
			      L3DSR_ENTRY_A_PAD) ||
	    nla_put_u64_64bit(skb, L3DSR_ENTRY_A_BYTES, c.bytes,
			      L3DSR_ENTRY_A_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int daddr_nl_map_get(struct sk_buff *skb, struct genl_info *info)
{
	struct daddr_net *dn = daddr_net(genl_info_net(info));
	struct daddr_entry *e;
	struct daddr_req req;
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = daddr_parse_one(info, false, &req, &nest);
	if (err)
		return err;

	msg = daddr_reply_new(info, L3DSR_CMD_MAP_GET, &hdr);
	if (IS_ERR(msg))
		return PTR_ERR(msg);

	mutex_lock(&dn->lock);
	e = daddr_find_locked(daddr_live_locked(dn), &req.key);
	if (!e) {
		mutex_unlock(&dn->lock);
		NL_SET_ERR_MSG_ATTR(info->extack, nest, "no entry with this key");
		err = -ENOENT;
		goto err_free;
	}
	err = nla_put_u32(msg, L3DSR_A_GENERATION, dn->generation) ?:
	      daddr_put_entry(msg, e);
	mutex_unlock(&dn->lock);
	if (err)
		goto err_free;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

/* The dump's cursor is the last entry sent (args[0]) and the generation it
 * was sent under (args[1]). Any change bumps the generation and may free
 * that entry, so a changed generation ends the dump: the netlink core sees
 * cb->seq differ from what earlier messages carried and flags the rest,
 * NLMSG_DONE included, NLM_F_DUMP_INTR; the client starts over. The 32-bit
 * generation would have to wrap between two reads of one dump to fool this.
 */
static int daddr_nl_map_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct daddr_net *dn = daddr_net(sock_net(skb->sk));
	struct daddr_entry *e, *prev = (struct daddr_entry *)cb->args[0];
	struct daddr_table *t;
	void *hdr;

	if (cb->args[2])
		return 0;

	mutex_lock(&dn->lock);
	cb->seq = dn->generation;
	if (prev && (u32)cb->args[1] != dn->generation) {
		cb->args[2] = 1;
		goto out;
	}
	t = daddr_live_locked(dn);
	if (prev)
		e = list_next_entry(prev, list);
	else
		e = list_first_entry(&t->entries, struct daddr_entry, list);

	list_for_each_entry_from(e, &t->entries, list) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &daddr_family,
				  NLM_F_MULTI, L3DSR_CMD_MAP_GET);
		if (!hdr)
			goto full;
		nl_dump_check_consistent(cb, genlmsg_nlhdr(hdr));
		if (nla_put_u32(skb, L3DSR_A_GENERATION, dn->generation) ||
		    daddr_put_entry(skb, e)) {
			genlmsg_cancel(skb, hdr);
			goto full;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = (long)e;
	}
	cb->args[2] = 1;
full:
	cb->args[1] = dn->generation;
out:
	mutex_unlock(&dn->lock);
	return skb->len;
}

static int daddr_nl_map_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct daddr_net *dn = daddr_net(net);
	struct nlattr *attr = info->attrs[L3DSR_A_FAMILY];
	u8 family = 0;
	int err;

	if (attr) {
		family = nla_get_u8(attr);
		err = daddr_check_family(attr, family, info->extack);
		if (err)
			return err;
	}
	daddr_direct_begin(dn);
	err = daddr_map_flush(dn, family);
	daddr_direct_end(net, dn);
	if (err)
		NL_SET_ERR_MSG_MOD(info->extack, "out of memory for an empty table");
	return err;
}

static int daddr_nl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	struct daddr_net *dn = daddr_net(genl_info_net(info));
	struct daddr_totals t;
	struct nlattr *nest;
	struct sk_buff *msg;
	u32 generation;
	void *hdr;

	daddr_totals_read(dn, &t, &generation);

	msg = daddr_reply_new(info, L3DSR_CMD_STATS_GET, &hdr);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	nest = nla_nest_start(msg, L3DSR_A_STATS);
	if (!nest ||
	    nla_put_u64_64bit(msg, L3DSR_STATS_A_REWRITTEN, t.rewritten,
			      L3DSR_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, L3DSR_STATS_A_NO_ENTRY, t.no_entry,
			      L3DSR_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, L3DSR_STATS_A_ERRORS, t.errors,
			      L3DSR_STATS_A_PAD) ||
	    nla_put_u32(msg, L3DSR_STATS_A_ENTRIES, t.entries))
		goto err_free;
	nla_nest_end(msg, nest);
	if (nla_put_u32(msg, L3DSR_A_GENERATION, generation) ||
	    nla_put_u8(msg, L3DSR_A_MODE, READ_ONCE(dn->mode)) ||
	    nla_put_u32(msg, L3DSR_A_HOOKS, READ_ONCE(dn->hooks)))
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int daddr_nl_replace_begin(struct sk_buff *skb, struct genl_info *info)
{
	struct daddr_net *dn = daddr_net(genl_info_net(info));
	struct sk_buff *msg;
	void *hdr;
	u32 id;
	int err;

	msg = daddr_reply_new(info, L3DSR_CMD_REPLACE_BEGIN, &hdr);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	err = daddr_replace_begin(dn, info->snd_portid, &id);
	if (err) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG_MOD(info->extack,
				   "out of memory for a staged table");
		return err;
	}
	/* Cannot fail: the message has room for one u32. */
	nla_put_u32(msg, L3DSR_A_REPLACE_ID, id);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int daddr_replace_id(struct genl_info *info, u32 *id)
{
	if (!info->attrs[L3DSR_A_REPLACE_ID]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "missing REPLACE_ID: take it from the reply to REPLACE_BEGIN");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, L3DSR_A_REPLACE_ID);
		return -EINVAL;
	}
	*id = nla_get_u32(info->attrs[L3DSR_A_REPLACE_ID]);
	return 0;
}

static void daddr_stale(struct genl_info *info)
{
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[L3DSR_A_REPLACE_ID],
			    "stale REPLACE_ID: that replace was committed, aborted, or superseded by a newer REPLACE_BEGIN; start again");
}

/* All entries of one message go in, or none does. */
static int daddr_nl_replace_add(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct daddr_net *dn = daddr_net(net);
	struct nlattr *attr, *attrs;
	struct list_head *mark;
	struct daddr_req req;
	int len, rem, n = 0;
	u32 id;
	int err;

	err = daddr_replace_id(info, &id);
	if (err)
		return err;
	attrs = daddr_attrs(info, &len);

	/* The staged table must not change between the families COMMIT
	 * registers hooks for and the swap: stage under the same lock.
	 */
	daddr_direct_begin(dn);
	mutex_lock(&dn->lock);
	err = daddr_replace_check_locked(dn, id);
	if (err) {
		daddr_stale(info);
		goto out;
	}
	mark = daddr_replace_mark_locked(dn);
	nla_for_each_attr(attr, attrs, len, rem) {
		if (nla_type(attr) != L3DSR_A_ENTRY)
			continue;
		n++;
		err = daddr_parse_entry(attr, true, &req, info->extack);
		if (err)
			break;
		err = daddr_replace_insert_locked(dn, &req.key, &req.val);
		if (err == -EEXIST)
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "this key is already in the staged table: each key once per replace");
		else if (err == -ENOSPC)
			daddr_table_full(info->extack, attr);
		else if (err)
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "could not stage the entry (out of memory?)");
		if (err)
			break;
	}
	if (!err && !n) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "REPLACE_ADD needs at least one ENTRY");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, L3DSR_A_ENTRY);
		err = -EINVAL;
	}
	if (err)
		daddr_replace_rollback_locked(dn, mark);
out:
	mutex_unlock(&dn->lock);
	daddr_direct_end(net, dn);
	return err;
}

/* COMMIT and ABORT both end the replace that REPLACE_ID names; an abort
 * fails only when that replace is stale.
 */
static int daddr_nl_replace_end(struct genl_info *info, bool commit)
{
	struct net *net = genl_info_net(info);
	struct daddr_net *dn = daddr_net(net);
	u32 id;
	int err;

	err = daddr_replace_id(info, &id);
	if (err)
		return err;
	if (commit) {
		daddr_direct_begin(dn);
		err = daddr_direct_need(net, dn,
					daddr_staged_families(dn, id));
		if (err) {
			daddr_direct_end(net, dn);
			daddr_no_hook(info->extack);
			return err;
		}
		err = daddr_replace_commit(dn, id);
		daddr_direct_end(net, dn);
	} else {
		err = daddr_replace_abort(dn, id);
	}
	if (err == -ESTALE)
		daddr_stale(info);
	else if (err)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "out of memory for counters; the staged table is kept, commit again or abort");
	return err;
}

static int daddr_nl_replace_commit(struct sk_buff *skb, struct genl_info *info)
{
	return daddr_nl_replace_end(info, true);
}

static int daddr_nl_replace_abort(struct sk_buff *skb, struct genl_info *info)
{
	return daddr_nl_replace_end(info, false);
}

static int daddr_nl_mode_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[L3DSR_A_MODE];
	struct net *net = genl_info_net(info);
	u8 mode;
	int err;

	if (!attr) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "missing MODE: 0 (rule) or 1 (direct)");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, L3DSR_A_MODE);
		return -EINVAL;
	}
	mode = nla_get_u8(attr);
	if (mode > L3DSR_MODE_MAX) {
		DADDR_SET_ERR_MSG_FMT_ATTR(info->extack, attr,
					   "unknown MODE %u: 0 (rule) or 1 (direct)",
					   "unknown MODE: 0 (rule) or 1 (direct)",
					   mode);
		return -EINVAL;
	}
	err = daddr_direct_set_mode(net, daddr_net(net), mode);
	if (err)
		daddr_no_hook(info->extack);
	return err;
}

/* GENL_UNS_ADMIN_PERM: CAP_NET_ADMIN in the user namespace that owns the
 * network namespace, so a container manages its own table and nobody
 * else's.
 */
static const struct genl_ops daddr_genl_ops[] = {
	{
		.cmd	= L3DSR_CMD_MAP_ADD,
		.doit	= daddr_nl_map_add,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_MAP_DEL,
		.doit	= daddr_nl_map_del,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_MAP_GET,
		.doit	= daddr_nl_map_get,
		.dumpit	= daddr_nl_map_dump,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_MAP_FLUSH,
		.doit	= daddr_nl_map_flush,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_REPLACE_BEGIN,
		.doit	= daddr_nl_replace_begin,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_REPLACE_ADD,
		.doit	= daddr_nl_replace_add,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_REPLACE_COMMIT,
		.doit	= daddr_nl_replace_commit,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_REPLACE_ABORT,
		.doit	= daddr_nl_replace_abort,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_STATS_GET,
		.doit	= daddr_nl_stats_get,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= L3DSR_CMD_MODE_SET,
		.doit	= daddr_nl_mode_set,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
};

/* resv_start_op: from MAP_DEL on, the genl core also refuses non-zero
 * reserved header bytes and every nlmsg_flags bit beyond REQUEST, ACK, ECHO
 * and DUMP. MAP_ADD is exempt from that header check only, because the ABI
 * gives NLM_F_REPLACE its meaning there; its attributes are validated as
 * strictly as everyone else's (no GENL_DONT_VALIDATE_* flag).
 * parallel_ops: our own per-namespace mutex serializes writers, so the
 * global genl mutex is not needed.
 */
static struct genl_family daddr_family __ro_after_init = {
	.name		= L3DSR_GENL_NAME,
	.version	= L3DSR_GENL_VERSION,
	.maxattr	= L3DSR_A_MAX,
	.policy		= daddr_policy,
	.netnsok	= true,
	.parallel_ops	= true,
	.resv_start_op	= L3DSR_CMD_MAP_ADD + 1,
	.module		= THIS_MODULE,
	.ops		= daddr_genl_ops,
	.n_ops		= ARRAY_SIZE(daddr_genl_ops),
};

/* A generic netlink socket's portid is unique in its namespace, so the
 * socket that began the staged replace is known by (net, portid). Kernel
 * sockets have portid 0 and send no URELEASE.
 */
static int daddr_nl_release(struct notifier_block *nb, unsigned long state,
			    void *ptr)
{
	struct netlink_notify *n = ptr;

	if (state == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC &&
	    n->portid)
		daddr_replace_release(daddr_net(n->net), n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block daddr_nl_notifier = {
	.notifier_call = daddr_nl_release,
};

int __init daddr_genl_init(void)
{
	int err;

	err = netlink_register_notifier(&daddr_nl_notifier);
	if (err)
		return err;
	err = genl_register_family(&daddr_family);
	if (err)
		netlink_unregister_notifier(&daddr_nl_notifier);
	return err;
}

void daddr_genl_exit(void)
{
	genl_unregister_family(&daddr_family);
	netlink_unregister_notifier(&daddr_nl_notifier);
}

MODULE_ALIAS_GENL_FAMILY(L3DSR_GENL_NAME);
