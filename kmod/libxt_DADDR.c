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
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <xtables.h>
#include <linux/netfilter/xt_DADDR.h>

enum {
	O_SET_DADDR = 0,
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

static void daddr_tg_help(void)
{
	printf(
"DADDR target options:\n"
"  --set-daddr ADDR\tRewrite the destination address to ADDR (the VIP).\n"
"\t\t\tADDR is a literal address of the rule's family: IPv4\n"
"\t\t\tfor iptables, IPv6 for ip6tables. Host names are not\n"
"\t\t\tresolved; unspecified and multicast addresses are refused.\n"
"Valid in the raw table's PREROUTING chain (recommended: before conntrack)\n"
"and in the mangle table's PREROUTING and INPUT chains, e.g.\n"
"  iptables -t raw -A PREROUTING -m dscp --dscp 1 -j DADDR --set-daddr 192.0.2.1\n");
}

/*
 * The refusals mirror the kernel's checkentry (xt_DADDR_main.c), so that
 * every rule the kernel holds can be saved and restored, and a rule refused
 * there is refused here first, with the bad value and the fix in the message
 * rather than a bare "Invalid argument" and a line in dmesg.
 */
static void daddr_tg4_parse(struct xt_option_call *cb)
{
	struct xt_daddr_tginfo *info = cb->data;
	struct in6_addr a6;
	struct in_addr a4;
	uint32_t h;

	xtables_option_parse(cb);

	if (inet_pton(AF_INET, cb->arg, &a4) != 1) {
		if (inet_pton(AF_INET6, cb->arg, &a6) != 1)
			xtables_error(PARAMETER_PROBLEM,
				"DADDR: \"%s\" is not an IPv4 address: --set-daddr takes a literal address (host names are not resolved)",
				cb->arg);
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			xtables_error(PARAMETER_PROBLEM,
				"DADDR: \"%s\" is an IPv4-mapped IPv6 address; give iptables the plain IPv4 VIP",
				cb->arg);
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is an IPv6 address; use ip6tables for an IPv6 VIP",
			cb->arg);
	}

	h = ntohl(a4.s_addr);
	if (h == INADDR_ANY)
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is the unspecified address; --set-daddr needs the VIP, a unicast address",
			cb->arg);
	if ((h >> 24) == 0)
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is in 0.0.0.0/8 (\"this network\"); --set-daddr needs the VIP, a unicast address",
			cb->arg);
	if (IN_MULTICAST(h))
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is a multicast address; --set-daddr needs the VIP, a unicast address",
			cb->arg);
	if (h == INADDR_BROADCAST)
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is the broadcast address; --set-daddr needs the VIP, a unicast address",
			cb->arg);

	/* The kernel insists that the 12 bytes after .ip stay zero. */
	memset(&info->daddr, 0, sizeof(info->daddr));
	info->daddr.in = a4;
}

static void daddr_tg6_parse(struct xt_option_call *cb)
{
	struct xt_daddr_tginfo *info = cb->data;
	struct in6_addr a6;
	struct in_addr a4;

	xtables_option_parse(cb);

	if (inet_pton(AF_INET6, cb->arg, &a6) != 1) {
		if (inet_pton(AF_INET, cb->arg, &a4) == 1)
			xtables_error(PARAMETER_PROBLEM,
				"DADDR: \"%s\" is an IPv4 address; use iptables for an IPv4 VIP",
				cb->arg);
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is not an IPv6 address: --set-daddr takes a literal address (host names are not resolved)",
			cb->arg);
	}

	if (IN6_IS_ADDR_UNSPECIFIED(&a6))
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is the unspecified address; --set-daddr needs the VIP, a unicast address",
			cb->arg);
	if (IN6_IS_ADDR_MULTICAST(&a6))
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is a multicast address; --set-daddr needs the VIP, a unicast address",
			cb->arg);
	/* An IPv4 VIP written the IPv6 way: the packet would still be IPv6. */
	if (IN6_IS_ADDR_V4MAPPED(&a6))
		xtables_error(PARAMETER_PROBLEM,
			"DADDR: \"%s\" is an IPv4-mapped address; use iptables with the plain IPv4 VIP",
			cb->arg);

	info->daddr.in6 = a6;
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

	if (inet_ntop(af, &info->daddr, buf, sizeof(buf)) == NULL)
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

static struct xtables_target daddr_tg_reg[] = {
	{
		.family		= NFPROTO_IPV4,
		.name		= XT_DADDR_NAME,
		.revision	= 0,
		.version	= XTABLES_VERSION,
		.size		= XT_ALIGN(sizeof(struct xt_daddr_tginfo)),
		.userspacesize	= XT_ALIGN(sizeof(struct xt_daddr_tginfo)),
		.help		= daddr_tg_help,
		.print		= daddr_tg4_print,
		.save		= daddr_tg4_save,
		.x6_parse	= daddr_tg4_parse,
		.x6_options	= daddr_tg_opts,
	},
	{
		.family		= NFPROTO_IPV6,
		.name		= XT_DADDR_NAME,
		.revision	= 0,
		.version	= XTABLES_VERSION,
		.size		= XT_ALIGN(sizeof(struct xt_daddr_tginfo)),
		.userspacesize	= XT_ALIGN(sizeof(struct xt_daddr_tginfo)),
		.help		= daddr_tg_help,
		.print		= daddr_tg6_print,
		.save		= daddr_tg6_save,
		.x6_parse	= daddr_tg6_parse,
		.x6_options	= daddr_tg_opts,
	},
};

/*
 * Not named _init: outside XTABLES_INTERNAL xtables.h does not map _init to
 * a constructor, and a global _init would clash with the C runtime's.
 * libxtables dlopen()s the .so and relies on the constructor registering.
 */
static void __attribute__((constructor)) daddr_tg_ldr(void)
{
	xtables_register_targets(daddr_tg_reg,
				 sizeof(daddr_tg_reg) / sizeof(daddr_tg_reg[0]));
}
