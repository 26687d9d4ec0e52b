// SPDX-License-Identifier: GPL-2.0
/*
 * libxt_DADDR: iptables/ip6tables extension for the DADDR target.
 *
 *   iptables -t raw -A PREROUTING -m dscp --dscp 1 -j DADDR --set-daddr VIP
 *
 * On an L3DSR real server the load balancer sends the client's packet to the
 * server's own address and encodes the VIP in the DSCP; DADDR puts the VIP
 * back as the destination so that the service, bound to the VIP, answers
 * with the VIP as source. One .so serves both families, as xt_DADDR does.
 *
 * The target info is struct xt_daddr_tginfo from the uapi header, revision
 * 0, so rules written by Yahoo's iptables-daddr load unchanged, including
 * their "--set-daddr=ADDR" spelling (getopt_long splits that for us).
 *
 * Revision 1 adds map mode, one rule for every VIP:
 *
 *   iptables -t raw -A PREROUTING -j DADDR --map
 *
 * and still takes --set-daddr: libxtables uses the highest revision both it
 * and the kernel know, so with a current module revision 1 parses every
 * DADDR rule, while rules already in the kernel as revision 0 keep printing
 * and saving through the revision 0 entries below.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <xtables.h>
#include <linux/netfilter/xt_DADDR.h>

/* xtables.h defines it only for extensions built inside iptables. */
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#endif

enum {
	O_SET_DADDR = 0,
	O_MAP,
};

/*
 * XTTYPE_STRING rather than XTTYPE_HOST: the latter goes through
 * getaddrinfo(), which would resolve host names. A firewall rule that
 * depends on DNS at load time silently changes meaning (or fails to load at
 * boot, before the resolver works), so only literal addresses are accepted
 * and parsed here with inet_pton().
 */
static const struct xt_option_entry daddr_tg_opts[] = {
	{
		.name	= "set-daddr",
		.id	= O_SET_DADDR,
		.type	= XTTYPE_STRING,
		.flags	= XTOPT_MAND,
	},
	XTOPT_TABLEEND,
};

static const struct xt_option_entry daddr_tg_opts_v1[] = {
	{
		.name	= "set-daddr",
		.id	= O_SET_DADDR,
		.type	= XTTYPE_STRING,
		.excl	= 1 << O_MAP,
	},
	{
		.name	= "map",
		.id	= O_MAP,
		.type	= XTTYPE_NONE,
		.excl	= 1 << O_SET_DADDR,
	},
	XTOPT_TABLEEND,
};

static void daddr_tg_help(void)
{
	printf("DADDR target options:\n"
	       "  --set-daddr ADDR\tRewrite the destination address to ADDR (the VIP).\n"
	       "\t\t\tADDR is a literal address of the rule's family: IPv4\n"
	       "\t\t\tfor iptables, IPv6 for ip6tables. Host names are not\n"
	       "\t\t\tresolved; unspecified and multicast addresses are refused.\n"
	       "Valid in the raw table's PREROUTING chain (recommended: before conntrack)\n"
	       "and in the mangle table's PREROUTING and INPUT chains, e.g.\n"
	       "  iptables -t raw -A PREROUTING -m dscp --dscp 1 -j DADDR --set-daddr 192.0.2.1\n");
}

static void daddr_tg_help_v1(void)
{
	daddr_tg_help();
	printf("  --map\t\t\tTake the VIP from this network namespace's DSCP->VIP\n"
	       "\t\t\ttable (managed with `l3dsr rule`): one rule serves\n"
	       "\t\t\tevery VIP, e.g.\n"
	       "  iptables -t raw -A PREROUTING -j DADDR --map\n");
}

/* Exits with PARAMETER_PROBLEM (status 2), naming the value given. */
#define daddr_refuse(arg, why) \
	xtables_error(PARAMETER_PROBLEM, "DADDR: \"%s\" %s", (arg), (why))

#define DADDR_NOT_LITERAL \
	"--set-daddr takes a literal address (host names are not resolved)"
#define DADDR_NEED_UNICAST "--set-daddr needs the VIP, a unicast address"

/*
 * The refusals mirror the kernel's checkentry (xt_DADDR_main.c), so that
 * every rule the kernel holds can be saved and restored, and a rule refused
 * there is refused here first, with the bad value and the fix in the message
 * rather than a bare "Invalid argument" and a line in dmesg.
 */
static void daddr_parse4(const struct xt_option_call *cb,
			 union nf_inet_addr *daddr)
{
	struct in6_addr a6;
	struct in_addr a4;
	in_addr_t h;

	if (inet_pton(AF_INET, cb->arg, &a4) != 1) {
		if (inet_pton(AF_INET6, cb->arg, &a6) != 1)
			daddr_refuse(cb->arg,
				     "is not an IPv4 address: " DADDR_NOT_LITERAL);
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			daddr_refuse(cb->arg,
				     "is an IPv4-mapped IPv6 address; give iptables the plain IPv4 VIP");
		daddr_refuse(cb->arg,
			     "is an IPv6 address; use ip6tables for an IPv6 VIP");
	}

	h = ntohl(a4.s_addr);
	if (h == INADDR_ANY)
		daddr_refuse(cb->arg,
			     "is the unspecified address; " DADDR_NEED_UNICAST);
	if ((h >> 24) == 0)
		daddr_refuse(cb->arg,
			     "is in 0.0.0.0/8 (\"this network\"); " DADDR_NEED_UNICAST);
	if (IN_MULTICAST(h))
		daddr_refuse(cb->arg,
			     "is a multicast address; " DADDR_NEED_UNICAST);
	if (h == INADDR_BROADCAST)
		daddr_refuse(cb->arg,
			     "is the broadcast address; " DADDR_NEED_UNICAST);

	/* The kernel insists that the 12 bytes after .ip stay zero. */
	memset(daddr, 0, sizeof(*daddr));
	daddr->in = a4;
}

static void daddr_parse6(const struct xt_option_call *cb,
			 union nf_inet_addr *daddr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET6, cb->arg, &a6) != 1) {
		if (inet_pton(AF_INET, cb->arg, &a4) == 1)
			daddr_refuse(cb->arg,
				     "is an IPv4 address; use iptables for an IPv4 VIP");
		daddr_refuse(cb->arg,
			     "is not an IPv6 address: " DADDR_NOT_LITERAL);
	}

	if (IN6_IS_ADDR_UNSPECIFIED(&a6))
		daddr_refuse(cb->arg,
			     "is the unspecified address; " DADDR_NEED_UNICAST);
	if (IN6_IS_ADDR_MULTICAST(&a6))
		daddr_refuse(cb->arg,
			     "is a multicast address; " DADDR_NEED_UNICAST);
	/* An IPv4 VIP written the IPv6 way: the packet would still be IPv6. */
	if (IN6_IS_ADDR_V4MAPPED(&a6))
		daddr_refuse(cb->arg,
			     "is an IPv4-mapped address; use iptables with the plain IPv4 VIP");

	daddr->in6 = a6;
}

static void daddr_tg4_parse(struct xt_option_call *cb)
{
	struct xt_daddr_tginfo *info = cb->data;

	xtables_option_parse(cb);
	daddr_parse4(cb, &info->daddr);
}

static void daddr_tg6_parse(struct xt_option_call *cb)
{
	struct xt_daddr_tginfo *info = cb->data;

	xtables_option_parse(cb);
	daddr_parse6(cb, &info->daddr);
}

static void daddr_tg_parse_v1(struct xt_option_call *cb, bool ipv6)
{
	struct xt_daddr_tginfo_v1 *info = cb->data;

	xtables_option_parse(cb);
	switch (cb->entry->id) {
	case O_SET_DADDR:
		if (ipv6)
			daddr_parse6(cb, &info->daddr);
		else
			daddr_parse4(cb, &info->daddr);
		break;
	case O_MAP:
		info->flags |= XT_DADDR_F_MAP;
		break;
	}
}

static void daddr_tg4_parse_v1(struct xt_option_call *cb)
{
	daddr_tg_parse_v1(cb, false);
}

static void daddr_tg6_parse_v1(struct xt_option_call *cb)
{
	daddr_tg_parse_v1(cb, true);
}

/* Exactly one of the two: the option table makes them exclusive. */
static void daddr_tg_check_v1(struct xt_fcheck_call *cb)
{
	if (!(cb->xflags & ((1 << O_SET_DADDR) | (1 << O_MAP))))
		xtables_error(PARAMETER_PROBLEM,
			      "DADDR: give --set-daddr VIP (one VIP per rule) or --map (VIPs from the l3dsr table)");
}

/*
 * Print and save never resolve names either (even without -n): the VIP is
 * what the reader needs to see, and save output must reload as it was.
 */
static void daddr_tg_print_addr(const struct xt_entry_target *target,
				int af, const char *prefix)
{
	const struct xt_daddr_tginfo *info = (const void *)target->data;
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(af, &info->daddr, buf, sizeof(buf)))
		strcpy(buf, "?");
	printf("%s%s", prefix, buf);
}

static void daddr_tg4_print(const void *ip, const struct xt_entry_target *target,
			    int numeric)
{
	(void)ip;
	(void)numeric;
	daddr_tg_print_addr(target, AF_INET, " DADDR set ");
}

static void daddr_tg6_print(const void *ip, const struct xt_entry_target *target,
			    int numeric)
{
	(void)ip;
	(void)numeric;
	daddr_tg_print_addr(target, AF_INET6, " DADDR set ");
}

static void daddr_tg_print_v1(const struct xt_entry_target *target, int af,
			      bool save)
{
	const struct xt_daddr_tginfo_v1 *info = (const void *)target->data;

	if (info->flags & XT_DADDR_F_MAP) {
		printf(save ? " --map" : " DADDR map");
		return;
	}
	daddr_tg_print_addr(target, af, save ? " --set-daddr " : " DADDR set ");
}

static void daddr_tg4_print_v1(const void *ip,
			       const struct xt_entry_target *target,
			       int numeric)
{
	(void)ip;
	(void)numeric;
	daddr_tg_print_v1(target, AF_INET, false);
}

static void daddr_tg6_print_v1(const void *ip,
			       const struct xt_entry_target *target,
			       int numeric)
{
	(void)ip;
	(void)numeric;
	daddr_tg_print_v1(target, AF_INET6, false);
}

static void daddr_tg4_save_v1(const void *ip,
			      const struct xt_entry_target *target)
{
	(void)ip;
	daddr_tg_print_v1(target, AF_INET, true);
}

static void daddr_tg6_save_v1(const void *ip,
			      const struct xt_entry_target *target)
{
	(void)ip;
	daddr_tg_print_v1(target, AF_INET6, true);
}

/*
 * The leading space matters: Yahoo's module printed "--set-daddr" without
 * it, so iptables-save wrote "-j DADDR--set-daddr ..." and the saved rules
 * did not load again.
 */
static void daddr_tg4_save(const void *ip, const struct xt_entry_target *target)
{
	(void)ip;
	daddr_tg_print_addr(target, AF_INET, " --set-daddr ");
}

static void daddr_tg6_save(const void *ip, const struct xt_entry_target *target)
{
	(void)ip;
	daddr_tg_print_addr(target, AF_INET6, " --set-daddr ");
}

/*
 * One entry for each family and revision: FAM is 4 or 6, and V the suffix
 * ("" or _v1) of the revision's info, options and callbacks.
 */
#define DADDR_TG(fam, rev, v, check) {					\
	.family		= NFPROTO_IPV##fam,				\
	.name		= XT_DADDR_NAME,				\
	.revision	= (rev),					\
	.version	= XTABLES_VERSION,				\
	.size		= XT_ALIGN(sizeof(struct xt_daddr_tginfo##v)),	\
	.userspacesize	= XT_ALIGN(sizeof(struct xt_daddr_tginfo##v)),	\
	.help		= daddr_tg_help##v,				\
	.print		= daddr_tg##fam##_print##v,			\
	.save		= daddr_tg##fam##_save##v,			\
	.x6_parse	= daddr_tg##fam##_parse##v,			\
	.x6_fcheck	= (check),					\
	.x6_options	= daddr_tg_opts##v,				\
}

static struct xtables_target daddr_tg_reg[] = {
	DADDR_TG(4, 0, , NULL),
	DADDR_TG(6, 0, , NULL),
	DADDR_TG(4, 1, _v1, daddr_tg_check_v1),
	DADDR_TG(6, 1, _v1, daddr_tg_check_v1),
};

/*
 * Not named _init: outside XTABLES_INTERNAL xtables.h does not map _init to
 * a constructor, and a global _init would clash with the C runtime's.
 * libxtables dlopen()s the .so and relies on the constructor registering.
 */
static void __attribute__((constructor)) daddr_tg_ldr(void)
{
	xtables_register_targets(daddr_tg_reg, ARRAY_SIZE(daddr_tg_reg));
}
