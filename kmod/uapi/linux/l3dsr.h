/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * l3dsr: the generic netlink ABI of xt_DADDR's map mode.
 *
 * This header is the single source of that ABI. The Go package genl/ is
 * checked against it by a test that parses this file.
 *
 * Map mode is xt_DADDR revision 1 with XT_DADDR_F_MAP:
 *
 *   iptables -t raw -A PREROUTING -j DADDR --map
 *
 * One rule serves every VIP. Each network namespace has one table:
 *
 *   key   (family, DSCP 0..63 or L3DSR_DSCP_ANY, local destination address
 *         or "any")
 *   value the VIP, of the key's family, and optionally the DSCP the packet
 *         leaves the rewrite with (L3DSR_ENTRY_A_DSCP_SET; ECN is kept)
 *
 * A packet is looked up in this order, and the first entry found wins:
 *
 *   1. (family, its DSCP, its destination address)
 *   2. (family, its DSCP, any local address)
 *   3. (family, L3DSR_DSCP_ANY, its destination address)
 *
 * no entry leaves it untouched. Keys 1 and 2 are looked up only for codes
 * that have entries, and key 3 only for addresses that may have one, so
 * ordinary traffic pays no hash lookup. Key 3 is addr mode: the VIP is
 * known by the local address the director sent the packet to (one address
 * per VIP on the real server), and the client's DSCP passes through. An
 * any-DSCP key must name a local address: (any DSCP, any local) would
 * capture all traffic and is refused.
 *
 * Commands and their attributes:
 *
 *  L3DSR_CMD_MAP_ADD     L3DSR_A_ENTRY { FAMILY, DSCP, [LOCAL], VIP,
 *                                       [DSCP_SET] }
 *                        create-only; with NLM_F_REPLACE an existing
 *                        entry's VIP and DSCP_SET are replaced (counters
 *                        kept; DSCP_SET left out: the DSCP is kept)
 *  L3DSR_CMD_MAP_DEL     L3DSR_A_ENTRY { FAMILY, DSCP, [LOCAL] }
 *  L3DSR_CMD_MAP_GET     doit: L3DSR_A_ENTRY { FAMILY, DSCP, [LOCAL] }
 *                        dumpit: every entry; each reply carries
 *                        L3DSR_A_GENERATION, and an interrupted dump is
 *                        flagged NLM_F_DUMP_INTR
 *                        replies: L3DSR_A_ENTRY { FAMILY, DSCP, [LOCAL],
 *                                 VIP, [DSCP_SET], PACKETS, BYTES }
 *  L3DSR_CMD_MAP_FLUSH   [L3DSR_A_FAMILY] (all families when absent)
 *  L3DSR_CMD_REPLACE_BEGIN  reply: L3DSR_A_REPLACE_ID
 *  L3DSR_CMD_REPLACE_ADD    L3DSR_A_REPLACE_ID, L3DSR_A_ENTRY...
 *                           (as many per message as fit)
 *  L3DSR_CMD_REPLACE_COMMIT L3DSR_A_REPLACE_ID: the staged table becomes
 *                           the table in one pointer swap; traffic sees
 *                           the old table or the new one, never a mix
 *  L3DSR_CMD_REPLACE_ABORT  L3DSR_A_REPLACE_ID
 *  L3DSR_CMD_STATS_GET   reply: L3DSR_A_STATS { REWRITTEN, NO_ENTRY,
 *                               ERRORS, ENTRIES }, L3DSR_A_GENERATION,
 *                               L3DSR_A_MODE, L3DSR_A_HOOKS
 *  L3DSR_CMD_MODE_SET    L3DSR_A_MODE: how packets reach the table
 *
 * Modes (per namespace, both families; L3DSR_MODE_RULE when it is made):
 *
 *   L3DSR_MODE_RULE    the table is read by the --map rule, wherever the
 *                      operator put it (iptables -S shows the rewrite)
 *   L3DSR_MODE_DIRECT  the module reads it from a netfilter hook of its
 *                      own at PRE_ROUTING, raw priority (before conntrack),
 *                      registered for a family only while the table has
 *                      entries of that family: no iptables rule and no
 *                      table walk. A --map rule still present does
 *                      nothing for a family whose hook is registered, so
 *                      a packet is never rewritten twice.
 *
 * L3DSR_A_HOOKS says which families' hooks are registered now
 * (L3DSR_HOOK_IPV4, L3DSR_HOOK_IPV6). A mode change, and any change that
 * gives a family its first entry in direct mode, registers the hook before
 * it returns; it fails with nothing changed when the hook cannot be
 * registered.
 *
 * One replace may be staged per namespace at a time: a new BEGIN discards
 * an older staged table, and commands naming its id then fail (-ESTALE).
 * A staged table is also discarded when the socket that sent its BEGIN is
 * closed: a replace is staged and committed on one socket.
 * All commands need CAP_NET_ADMIN in the namespace's user namespace.
 */
#ifndef _UAPI_LINUX_L3DSR_H
#define _UAPI_LINUX_L3DSR_H

#include <linux/types.h>

#define L3DSR_GENL_NAME		"l3dsr"
/* 2: L3DSR_DSCP_ANY keys and L3DSR_ENTRY_A_DSCP_SET.
 * 3: L3DSR_CMD_MODE_SET, L3DSR_A_MODE and L3DSR_A_HOOKS (the direct path).
 */
#define L3DSR_GENL_VERSION	3

/* Most entries one namespace's table may hold. */
#define L3DSR_MAX_ENTRIES	1048576
#define L3DSR_DSCP_MAX		63
/* L3DSR_ENTRY_A_DSCP of an entry that matches every DSCP (needs LOCAL). */
#define L3DSR_DSCP_ANY		255

enum l3dsr_cmd {
	L3DSR_CMD_UNSPEC,
	L3DSR_CMD_MAP_ADD,
	L3DSR_CMD_MAP_DEL,
	L3DSR_CMD_MAP_GET,
	L3DSR_CMD_MAP_FLUSH,
	L3DSR_CMD_REPLACE_BEGIN,
	L3DSR_CMD_REPLACE_ADD,
	L3DSR_CMD_REPLACE_COMMIT,
	L3DSR_CMD_REPLACE_ABORT,
	L3DSR_CMD_STATS_GET,
	L3DSR_CMD_MODE_SET,
	__L3DSR_CMD_MAX
};

#define L3DSR_CMD_MAX (__L3DSR_CMD_MAX - 1)

enum l3dsr_attr {
	L3DSR_A_UNSPEC,
	L3DSR_A_ENTRY,		/* nested: enum l3dsr_entry_attr */
	L3DSR_A_REPLACE_ID,	/* u32 */
	L3DSR_A_GENERATION,	/* u32: bumped by every change */
	L3DSR_A_STATS,		/* nested: enum l3dsr_stats_attr */
	L3DSR_A_FAMILY,		/* u8: AF_INET or AF_INET6 */
	L3DSR_A_PAD,
	L3DSR_A_MODE,		/* u8: enum l3dsr_mode */
	L3DSR_A_HOOKS,		/* u32: L3DSR_HOOK_* of registered hooks */
	__L3DSR_A_MAX
};

#define L3DSR_A_MAX (__L3DSR_A_MAX - 1)

enum l3dsr_mode {
	L3DSR_MODE_RULE,
	L3DSR_MODE_DIRECT,
	__L3DSR_MODE_MAX
};

#define L3DSR_MODE_MAX (__L3DSR_MODE_MAX - 1)

#define L3DSR_HOOK_IPV4		0x1
#define L3DSR_HOOK_IPV6		0x2

enum l3dsr_entry_attr {
	L3DSR_ENTRY_A_UNSPEC,
	L3DSR_ENTRY_A_FAMILY,	/* u8: AF_INET or AF_INET6 */
	L3DSR_ENTRY_A_DSCP,	/* u8: 0..63, or L3DSR_DSCP_ANY */
	L3DSR_ENTRY_A_LOCAL,	/* binary, 4 or 16 bytes; absent: any */
	L3DSR_ENTRY_A_VIP,	/* binary, 4 or 16 bytes */
	L3DSR_ENTRY_A_PACKETS,	/* u64, replies only */
	L3DSR_ENTRY_A_BYTES,	/* u64, replies only */
	L3DSR_ENTRY_A_PAD,
	L3DSR_ENTRY_A_DSCP_SET,	/* u8: 0..63, the DSCP after the rewrite;
				 * absent: the packet's DSCP is kept
				 */
	__L3DSR_ENTRY_A_MAX
};

#define L3DSR_ENTRY_A_MAX (__L3DSR_ENTRY_A_MAX - 1)

enum l3dsr_stats_attr {
	L3DSR_STATS_A_UNSPEC,
	L3DSR_STATS_A_REWRITTEN,	/* u64: packets given their VIP */
	L3DSR_STATS_A_NO_ENTRY,		/* u64: packets with no entry */
	L3DSR_STATS_A_ERRORS,		/* u64: packets dropped, not writable */
	L3DSR_STATS_A_ENTRIES,		/* u32: entries in the table */
	L3DSR_STATS_A_PAD,
	__L3DSR_STATS_A_MAX
};

#define L3DSR_STATS_A_MAX (__L3DSR_STATS_A_MAX - 1)

#endif /* _UAPI_LINUX_L3DSR_H */
