// SPDX-License-Identifier: GPL-2.0
/*
 * l3dsr-nltest: a raw generic netlink driver for the "l3dsr" family, for
 * the map_kernel scenario. It deliberately does NOT validate what it sends
 * (bad input is what the kernel's checks are tested with), and prints the
 * kernel's extack text on errors. Plus a UDP sender/receiver that sets the
 * DSCP and reports each datagram's destination address.
 *
 * Usage: l3dsr-nltest [-n NETNS] COMMAND [ARGS]
 *   -n NETNS  run in /run/netns/NETNS (setns: much cheaper than `ip netns
 *             exec`, which remounts /sys, under TCG)
 *   add|replace|del|get ENTRY [, ENTRY]...   MAP_ADD (replace: NLM_F_REPLACE),
 *                                            MAP_DEL, MAP_GET
 *       ENTRY: words fam=2|10|inet|inet6 dscp=N|any local=ADDR vip=ADDR
 *              dscp_set=N packets=N; replies print dscp_set=N after vip=
 *              when the entry has one;
 *       ADDR: an IPv4/IPv6 address, or hex:BYTES for raw bytes
 *   dump [resume=FILE]     every entry, then "generation=G entries=N intr=0|1";
 *                          resume: after the first batch create FILE.paused and
 *                          wait for FILE before reading on
 *   flush [fam=N]   stats   begin
 *   mode rule|direct|N     MODE_SET (N: a raw value, for the kernel's checks);
 *                          stats prints "mode=M hooks=H" on a second line
 *   radd [id=N] [ENTRY [, ENTRY]...]         REPLACE_ADD
 *   commit [id=N]   abort [id=N]     (id=last: this process's last BEGIN)
 *   fail=N COMMAND ...     fail the Nth allocation that the kernel's fault
 *                          injection filter admits (/proc/thread-self/
 *                          fail-nth); stderr says "fault: injected" or not
 *   newns                  unshare(CLONE_NEWNET): a namespace is created
 *   shell                  commands from stdin, a line each, on one socket;
 *                          after each, "@@rc=N" (its exit status); stderr
 *                          goes to stdout. A staged replace is freed when
 *                          the socket that began it closes, so staging
 *                          across steps needs one process.
 *   bulk N [per=K] [seed=S] [keep=DSCP/VIP[/LOCAL]]... [repeat=R]
 *                          R times: BEGIN, N generated IPv4 entries plus the
 *                          keep entries K per message, COMMIT; prints timings
 *   send dst=ADDR port=P tos=T [count=N|stopfile=F] [gap_us=U]
 *   recv port=P [fam=inet|inet6] [ready=FILE] [timeout=S] [tos=1]
 *                          prints "received=R expected=E missing=M dst=A,B",
 *                          with tos=1 also " tos=T,U" (the TOS/traffic
 *                          class bytes seen, in decimal)
 * Exit status: 0 ok, 1 the kernel (or the network) said no, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/l3dsr.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define BUFSZ (1 << 20)

static int nl_fd = -1;
static uint16_t fam_id;
static uint32_t nl_seq = 1;
static char *txbuf, *rxbuf;

static void usage(const char *why)
{
	fprintf(stderr, "l3dsr-nltest: %s (see the comment at the top of the source)\n", why);
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- message building ---- */

struct msg {
	char *buf;
	size_t len;
};

static struct nlmsghdr *msg_hdr(struct msg *m)
{
	return (struct nlmsghdr *)m->buf;
}

static void msg_init(struct msg *m, uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	m->buf = txbuf;
	memset(m->buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh = msg_hdr(m);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = nl_seq++;
	g = (struct genlmsghdr *)(m->buf + NLMSG_HDRLEN);
	g->cmd = cmd;
	g->version = L3DSR_GENL_VERSION;
	m->len = NLMSG_HDRLEN + GENL_HDRLEN;
}

static size_t attr_put(struct msg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);
	size_t off = m->len;

	if (m->len + NLA_HDRLEN + NLA_ALIGN(len) > BUFSZ)
		usage("message too big");
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy(m->buf + m->len + NLA_HDRLEN, data, len);
	memset(m->buf + m->len + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->len += NLA_HDRLEN + NLA_ALIGN(len);
	return off;
}

static size_t nest_start(struct msg *m, uint16_t type)
{
	return attr_put(m, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct msg *m, size_t off)
{
	((struct nlattr *)(m->buf + off))->nla_len = m->len - off;
}

/* ---- netlink I/O ---- */

static const char *err_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case ENOSPC: return "ENOSPC";
	case ESTALE: return "ESTALE";
	case ENOMEM: return "ENOMEM";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EMSGSIZE: return "EMSGSIZE";
	default: return "E?";
	}
}

/* Prints the error with its extack and returns the positive errno. */
static int report_error(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	int err = -e->error;
	const char *text = NULL;
	long miss_type = -1, pol_max = -1;
	const struct nlattr *a;
	size_t off, end = nlh->nlmsg_len;

	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = NLMSG_HDRLEN + sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		off = NLMSG_ALIGN(off);
		while (off + NLA_HDRLEN <= end) {
			a = (const struct nlattr *)((const char *)nlh + off);
			if (a->nla_len < NLA_HDRLEN || off + a->nla_len > end)
				break;
			const char *p = (const char *)a + NLA_HDRLEN;

			switch (a->nla_type & NLA_TYPE_MASK) {
			case NLMSGERR_ATTR_MSG:
				text = p;
				break;
			case NLMSGERR_ATTR_MISS_TYPE:
				miss_type = *(const uint32_t *)p;
				break;
			case NLMSGERR_ATTR_POLICY: {
				size_t o = 0, l = a->nla_len - NLA_HDRLEN;

				while (o + NLA_HDRLEN <= l) {
					const struct nlattr *b = (const void *)(p + o);

					if (b->nla_len < NLA_HDRLEN)
						break;
					if ((b->nla_type & NLA_TYPE_MASK) ==
					    NL_POLICY_TYPE_ATTR_MAX_VALUE_U)
						pol_max = *(const uint64_t *)((const char *)b + NLA_HDRLEN);
					o += NLA_ALIGN(b->nla_len);
				}
				break;
			}
			}
			off += NLA_ALIGN(a->nla_len);
		}
	}
	fprintf(stderr, "error: %s (%d): %s", err_name(err), err, text ? text : "(no extack message)");
	if (miss_type >= 0)
		fprintf(stderr, " [missing attribute %ld]", miss_type);
	if (pol_max >= 0)
		fprintf(stderr, " [policy max %ld]", pol_max);
	fputc('\n', stderr);
	return err;
}

typedef void (*reply_fn)(const struct nlmsghdr *nlh, void *arg);

/* fail=N before a command: the kernel fails this task's Nth allocation
 * that the fault injection's filter lets through (the debug kernel's
 * /proc/thread-self/fail-nth; make test-debug aims it at the module).
 */
static unsigned int fail_nth;

static unsigned int fault_read(void)
{
	unsigned int left = 1;
	FILE *f = fopen("/proc/thread-self/fail-nth", "r");

	if (!f || fscanf(f, "%u", &left) != 1) {
		perror("l3dsr-nltest: reading /proc/thread-self/fail-nth");
		exit(1);
	}
	fclose(f);
	return left;
}

static void fault_write(unsigned int n)
{
	FILE *f = fopen("/proc/thread-self/fail-nth", "w");

	if (!f || fprintf(f, "%u", n) < 0 || fclose(f)) {
		perror("l3dsr-nltest: writing /proc/thread-self/fail-nth");
		exit(1);
	}
}

static int fault_arm(void)
{
	if (fail_nth)
		fault_write(fail_nth);
	return 0;
}

/* Says on stderr whether the armed fault was injected, and disarms it: a
 * count left over would fail a later command of the same shell.
 */
static void fault_report(void)
{
	unsigned int left;

	if (!fail_nth)
		return;
	left = fault_read();
	fault_write(0);
	if (fault_read()) {
		fprintf(stderr, "l3dsr-nltest: fail-nth did not go back to 0\n");
		exit(1);
	}
	fprintf(stderr, "fault: %s (fail=%u)\n", left ? "not injected" : "injected", fail_nth);
	fail_nth = 0;
}

static int nl_talk_once(struct msg *m, reply_fn fn, void *arg, const char *resume);

/* Sends @m and reads until the ack (or NLMSG_DONE); @fn sees each reply. */
static int nl_talk(struct msg *m, reply_fn fn, void *arg, const char *resume)
{
	int err;

	fault_arm();
	err = nl_talk_once(m, fn, arg, resume);
	fault_report();
	return err;
}

static int nl_talk_once(struct msg *m, reply_fn fn, void *arg, const char *resume)
{
	uint32_t seq = msg_hdr(m)->nlmsg_seq;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int batches = 0;

	msg_hdr(m)->nlmsg_len = m->len;
	msg_hdr(m)->nlmsg_flags |= NLM_F_ACK;
	if (sendto(nl_fd, m->buf, m->len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("sendto");
		return errno;
	}
	for (;;) {
		ssize_t n = recv(nl_fd, rxbuf, BUFSZ, 0);
		const struct nlmsghdr *nlh;

		if (n < 0) {
			perror("recv");
			return errno;
		}
		if (resume && ++batches == 2) {
			char p[4096];
			FILE *f;

			snprintf(p, sizeof(p), "%s.paused", resume);
			f = fopen(p, "w");
			if (f)
				fclose(f);
			while (access(resume, F_OK))
				usleep(20000);
		}
		for (nlh = (const void *)rxbuf; NLMSG_OK(nlh, (size_t)n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (e->error)
					return report_error(nlh);
				return 0;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int derr = *(const int *)NLMSG_DATA(nlh);

				if (fn)
					fn(nlh, arg);
				if (derr)
					return report_error(nlh);
				return 0;
			}
			if (fn)
				fn(nlh, arg);
		}
	}
}

static int nl_open(void)
{
	int one = 1, sz = 8 << 20;
	struct msg m;
	char name[] = L3DSR_GENL_NAME;

	nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl_fd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(nl_fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(nl_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));

	msg_init(&m, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	((struct genlmsghdr *)(m.buf + NLMSG_HDRLEN))->version = 1;
	attr_put(&m, CTRL_ATTR_FAMILY_NAME, name, sizeof(name));
	msg_hdr(&m)->nlmsg_len = m.len;
	{
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
		const struct nlmsghdr *nlh;
		ssize_t n;

		if (sendto(nl_fd, m.buf, m.len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("sendto");
			return 1;
		}
		n = recv(nl_fd, rxbuf, BUFSZ, 0);
		if (n < 0) {
			perror("recv");
			return 1;
		}
		nlh = (const void *)rxbuf;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			fprintf(stderr, "family %s: ", L3DSR_GENL_NAME);
			report_error(nlh);
			return 1;
		}
		const struct nlattr *a = (const void *)((const char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
		size_t left = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;

		while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
			if (a->nla_type == CTRL_ATTR_FAMILY_ID)
				fam_id = *(const uint16_t *)((const char *)a + NLA_HDRLEN);
			left -= (size_t)NLA_ALIGN(a->nla_len) < left ? (size_t)NLA_ALIGN(a->nla_len) : left;
			a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
		}
	}
	if (!fam_id) {
		fprintf(stderr, "family %s: no id in the reply\n", L3DSR_GENL_NAME);
		return 1;
	}
	return 0;
}

/* ---- argument parsing ---- */

static int parse_addr(const char *s, unsigned char *out)
{
	if (!strncmp(s, "hex:", 4)) {
		size_t n = 0;

		for (s += 4; s[0] && s[1] && n < 64; s += 2)
			sscanf(s, "%2hhx", &out[n++]);
		return n;
	}
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 16;
	fprintf(stderr, "l3dsr-nltest: bad address '%s'\n", s);
	exit(2);
}

static long parse_fam(const char *s)
{
	if (!strcmp(s, "inet") || !strcmp(s, "4"))
		return AF_INET;
	if (!strcmp(s, "inet6") || !strcmp(s, "6"))
		return AF_INET6;
	return strtol(s, NULL, 0);
}

static const char *kv(const char *arg, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(arg, key, n) && arg[n] == '=' ? arg + n + 1 : NULL;
}

/* Appends ENTRY [, ENTRY]... from argv; returns how many. */
static int put_entries(struct msg *m, int argc, char **argv)
{
	int i = 0, n = 0;

	while (i < argc) {
		size_t nest = nest_start(m, L3DSR_A_ENTRY);

		for (; i < argc && strcmp(argv[i], ","); i++) {
			const char *v;
			unsigned char a[64];
			uint8_t u8;
			uint64_t u64;
			int len;

			if ((v = kv(argv[i], "fam"))) {
				u8 = parse_fam(v);
				attr_put(m, L3DSR_ENTRY_A_FAMILY, &u8, 1);
			} else if ((v = kv(argv[i], "dscp"))) {
				u8 = strcmp(v, "any") ? strtol(v, NULL, 0) : L3DSR_DSCP_ANY;
				attr_put(m, L3DSR_ENTRY_A_DSCP, &u8, 1);
			} else if ((v = kv(argv[i], "dscp_set"))) {
				u8 = strtol(v, NULL, 0);
				attr_put(m, L3DSR_ENTRY_A_DSCP_SET, &u8, 1);
			} else if ((v = kv(argv[i], "local"))) {
				len = parse_addr(v, a);
				attr_put(m, L3DSR_ENTRY_A_LOCAL, a, len);
			} else if ((v = kv(argv[i], "vip"))) {
				len = parse_addr(v, a);
				attr_put(m, L3DSR_ENTRY_A_VIP, a, len);
			} else if ((v = kv(argv[i], "packets"))) {
				u64 = strtoull(v, NULL, 0);
				attr_put(m, L3DSR_ENTRY_A_PACKETS, &u64, 8);
			} else {
				fprintf(stderr, "l3dsr-nltest: unknown entry word '%s'\n", argv[i]);
				exit(2);
			}
		}
		nest_end(m, nest);
		n++;
		if (i < argc)
			i++; /* the "," */
	}
	return n;
}

/* ---- reply printing ---- */

struct dump_state {
	unsigned long entries;
	uint32_t generation;
	int intr;
	int quiet;
};

static void print_addr(int fam, const void *p)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(fam, p, s, sizeof(s));
	fputs(s, stdout);
}

static void on_entry_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_state *st = arg;
	const char *p = (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN;
	size_t left = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	const struct nlattr *a;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		st->intr = 1;
	if (nlh->nlmsg_type == NLMSG_DONE)
		return;
	for (a = (const void *)p; left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	     a->nla_len <= left;) {
		const char *d = (const char *)a + NLA_HDRLEN;

		if ((a->nla_type & NLA_TYPE_MASK) == L3DSR_A_GENERATION) {
			st->generation = *(const uint32_t *)d;
		} else if ((a->nla_type & NLA_TYPE_MASK) == L3DSR_A_ENTRY) {
			const struct nlattr *b = (const void *)d;
			size_t bl = a->nla_len - NLA_HDRLEN;
			int fam = 0, dscp = -1, dscp_set = -1;
			const void *local = NULL, *vip = NULL;
			uint64_t packets = 0, bytes = 0;

			while (bl >= NLA_HDRLEN && b->nla_len >= NLA_HDRLEN && b->nla_len <= bl) {
				const char *bd = (const char *)b + NLA_HDRLEN;

				switch (b->nla_type & NLA_TYPE_MASK) {
				case L3DSR_ENTRY_A_FAMILY: fam = *(const uint8_t *)bd; break;
				case L3DSR_ENTRY_A_DSCP: dscp = *(const uint8_t *)bd; break;
				case L3DSR_ENTRY_A_DSCP_SET: dscp_set = *(const uint8_t *)bd; break;
				case L3DSR_ENTRY_A_LOCAL: local = bd; break;
				case L3DSR_ENTRY_A_VIP: vip = bd; break;
				case L3DSR_ENTRY_A_PACKETS: memcpy(&packets, bd, 8); break;
				case L3DSR_ENTRY_A_BYTES: memcpy(&bytes, bd, 8); break;
				}
				if ((size_t)NLA_ALIGN(b->nla_len) >= bl)
					break;
				bl -= NLA_ALIGN(b->nla_len);
				b = (const void *)((const char *)b + NLA_ALIGN(b->nla_len));
			}
			st->entries++;
			if (!st->quiet) {
				printf("fam=%d dscp=%d local=", fam, dscp);
				if (local)
					print_addr(fam, local);
				else
					fputs("any", stdout);
				fputs(" vip=", stdout);
				if (vip)
					print_addr(fam, vip);
				if (dscp_set >= 0)
					printf(" dscp_set=%d", dscp_set);
				printf(" packets=%llu bytes=%llu\n", (unsigned long long)packets,
				       (unsigned long long)bytes);
			}
		}
		if ((size_t)NLA_ALIGN(a->nla_len) >= left)
			break;
		left -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

static void on_stats_reply(const struct nlmsghdr *nlh, void *arg)
{
	const char *p = (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN;
	size_t left = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	uint64_t v[__L3DSR_STATS_A_MAX] = { 0 };
	uint32_t gen = 0, hooks = 0;
	int mode = -1;
	const struct nlattr *a;

	(void)arg;
	for (a = (const void *)p; left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	     a->nla_len <= left;) {
		const char *d = (const char *)a + NLA_HDRLEN;

		if ((a->nla_type & NLA_TYPE_MASK) == L3DSR_A_GENERATION) {
			gen = *(const uint32_t *)d;
		} else if ((a->nla_type & NLA_TYPE_MASK) == L3DSR_A_MODE) {
			mode = *(const uint8_t *)d;
		} else if ((a->nla_type & NLA_TYPE_MASK) == L3DSR_A_HOOKS) {
			hooks = *(const uint32_t *)d;
		} else if ((a->nla_type & NLA_TYPE_MASK) == L3DSR_A_STATS) {
			const struct nlattr *b = (const void *)d;
			size_t bl = a->nla_len - NLA_HDRLEN;

			while (bl >= NLA_HDRLEN && b->nla_len >= NLA_HDRLEN && b->nla_len <= bl) {
				int t = b->nla_type & NLA_TYPE_MASK;

				if (t > 0 && t < __L3DSR_STATS_A_MAX) {
					if (b->nla_len - NLA_HDRLEN == 8)
						memcpy(&v[t], (const char *)b + NLA_HDRLEN, 8);
					else
						v[t] = *(const uint32_t *)((const char *)b + NLA_HDRLEN);
				}
				if ((size_t)NLA_ALIGN(b->nla_len) >= bl)
					break;
				bl -= NLA_ALIGN(b->nla_len);
				b = (const void *)((const char *)b + NLA_ALIGN(b->nla_len));
			}
		}
		if ((size_t)NLA_ALIGN(a->nla_len) >= left)
			break;
		left -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	printf("rewritten=%llu no_entry=%llu errors=%llu entries=%llu generation=%u\n",
	       (unsigned long long)v[L3DSR_STATS_A_REWRITTEN],
	       (unsigned long long)v[L3DSR_STATS_A_NO_ENTRY],
	       (unsigned long long)v[L3DSR_STATS_A_ERRORS],
	       (unsigned long long)v[L3DSR_STATS_A_ENTRIES], gen);
	/* A line of its own: older scenarios match the first one whole. */
	printf("mode=%d hooks=%u\n", mode, hooks);
}

static void on_begin_reply(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *a = (const void *)((const char *)NLMSG_DATA(nlh) + GENL_HDRLEN);

	if (nlh->nlmsg_type != NLMSG_DONE && a->nla_type == L3DSR_A_REPLACE_ID)
		*(uint32_t *)arg = *(const uint32_t *)((const char *)a + NLA_HDRLEN);
}

/* ---- commands ---- */

/* What this process's last BEGIN returned: id=last in a shell. */
static uint32_t last_begin_id;

static int put_id(struct msg *m, int argc, char **argv)
{
	const char *v;

	if (argc > 0 && (v = kv(argv[0], "id"))) {
		uint32_t id = strcmp(v, "last") ? strtoul(v, NULL, 0) : last_begin_id;

		attr_put(m, L3DSR_A_REPLACE_ID, &id, 4);
		return 1;
	}
	return 0;
}

static int cmd_begin(uint32_t *id)
{
	struct msg m;

	int err;

	*id = 0;
	msg_init(&m, fam_id, 0, L3DSR_CMD_REPLACE_BEGIN);
	err = nl_talk(&m, on_begin_reply, id, NULL);
	if (!err)
		last_begin_id = *id;
	return err;
}

struct keep {
	uint8_t dscp;
	int has_local;
	unsigned char vip[4], local[4];
};

static int cmd_bulk(int argc, char **argv)
{
	unsigned long n, per = 400, seed = 0, repeat = 1, i, r;
	struct keep keeps[64];
	int nkeep = 0, k, err;
	double worst = 0, total = 0;

	if (argc < 1)
		usage("bulk N");
	n = strtoul(argv[0], NULL, 0);
	for (k = 1; k < argc; k++) {
		const char *v;

		if ((v = kv(argv[k], "per"))) {
			per = strtoul(v, NULL, 0);
		} else if ((v = kv(argv[k], "seed"))) {
			seed = strtoul(v, NULL, 0);
		} else if ((v = kv(argv[k], "repeat"))) {
			repeat = strtoul(v, NULL, 0);
		} else if ((v = kv(argv[k], "keep")) && nkeep < 64) {
			char buf[128], *vip, *local;
			struct keep *kp = &keeps[nkeep++];

			snprintf(buf, sizeof(buf), "%s", v);
			vip = strchr(buf, '/');
			if (!vip)
				usage("keep=DSCP/VIP[/LOCAL]");
			*vip++ = 0;
			local = strchr(vip, '/');
			if (local)
				*local++ = 0;
			kp->dscp = strtoul(buf, NULL, 0);
			if (inet_pton(AF_INET, vip, kp->vip) != 1)
				usage("keep: bad VIP");
			kp->has_local = local && inet_pton(AF_INET, local, kp->local) == 1;
		} else {
			usage("bulk: unknown word");
		}
	}
	for (r = 0; r < repeat; r++) {
		unsigned long msgs = 0, total_entries = n + nkeep;
		uint32_t id;
		double t0 = now_ms(), t;
		struct msg m;

		err = cmd_begin(&id);
		if (err)
			return 1;
		for (i = 0; i < total_entries;) {
			unsigned long j;

			msg_init(&m, fam_id, 0, L3DSR_CMD_REPLACE_ADD);
			attr_put(&m, L3DSR_A_REPLACE_ID, &id, 4);
			for (j = 0; j < per && i < total_entries; j++, i++) {
				size_t nest = nest_start(&m, L3DSR_A_ENTRY);
				uint8_t fam = AF_INET, dscp;
				uint32_t local, vip;

				attr_put(&m, L3DSR_ENTRY_A_FAMILY, &fam, 1);
				if (i < n) {
					/* 64 codes per local address 198.18.x.y */
					dscp = i % 64;
					local = htonl(0xC6120001u + i / 64);
					vip = htonl(0xAC100001u + ((i + (seed + r) * 7919) & 0xFFFFF));
					attr_put(&m, L3DSR_ENTRY_A_DSCP, &dscp, 1);
					attr_put(&m, L3DSR_ENTRY_A_LOCAL, &local, 4);
					attr_put(&m, L3DSR_ENTRY_A_VIP, &vip, 4);
				} else {
					struct keep *kp = &keeps[i - n];

					attr_put(&m, L3DSR_ENTRY_A_DSCP, &kp->dscp, 1);
					if (kp->has_local)
						attr_put(&m, L3DSR_ENTRY_A_LOCAL, kp->local, 4);
					attr_put(&m, L3DSR_ENTRY_A_VIP, kp->vip, 4);
				}
				nest_end(&m, nest);
			}
			msgs++;
			if (nl_talk(&m, NULL, NULL, NULL))
				return 1;
		}
		msg_init(&m, fam_id, 0, L3DSR_CMD_REPLACE_COMMIT);
		attr_put(&m, L3DSR_A_REPLACE_ID, &id, 4);
		if (nl_talk(&m, NULL, NULL, NULL))
			return 1;
		t = now_ms() - t0;
		total += t;
		if (t > worst)
			worst = t;
		printf("bulk: replace %lu of %lu: %lu entries in %lu messages, BEGIN..COMMIT %.1f ms\n",
		       r + 1, repeat, total_entries, msgs, t);
		fflush(stdout);
	}
	printf("bulk: %lu replaces, mean %.1f ms, worst %.1f ms\n", repeat, total / repeat, worst);
	return 0;
}

/* ---- UDP ---- */

static int sockaddr_of(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return AF_INET6;
	}
	usage("bad address");
	return -1;
}

static int cmd_send(int argc, char **argv)
{
	const char *dst = NULL, *stopfile = NULL, *v;
	long port = 0, tos = 0, count = 1, gap = 1000, sent = 0, i;
	struct sockaddr_storage ss;
	socklen_t sl;
	char buf[64];
	int fd, fam;

	for (i = 0; i < argc; i++) {
		if ((v = kv(argv[i], "dst")))
			dst = v;
		else if ((v = kv(argv[i], "port")))
			port = strtol(v, NULL, 0);
		else if ((v = kv(argv[i], "tos")))
			tos = strtol(v, NULL, 0);
		else if ((v = kv(argv[i], "count")))
			count = strtol(v, NULL, 0);
		else if ((v = kv(argv[i], "gap_us")))
			gap = strtol(v, NULL, 0);
		else if ((v = kv(argv[i], "stopfile")))
			stopfile = v;
		else
			usage("send: unknown word");
	}
	if (!dst || !port)
		usage("send needs dst= and port=");
	fam = sockaddr_of(dst, port, &ss, &sl);
	fd = socket(fam, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (fam == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(int));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(int));
	while (stopfile ? access(stopfile, F_OK) != 0 : sent < count) {
		int len = snprintf(buf, sizeof(buf), "seq %ld", sent);

		if (sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0) {
			perror("sendto");
			return 1;
		}
		sent++;
		if (gap)
			usleep(gap);
	}
	/* The end marker goes three times: the receiver needs only one. */
	for (i = 0; i < 3; i++) {
		int len = snprintf(buf, sizeof(buf), "end %ld", sent);

		sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl);
		usleep(20000);
	}
	printf("sent=%ld\n", sent);
	return 0;
}

static int cmd_recv(int argc, char **argv)
{
	long port = 0, timeout = 30, expected = -1, received = 0, i;
	const char *ready = NULL, *v;
	int fam = AF_INET, fd, one = 1, sz = 4 << 20, nd = 0, want_tos = 0, nt = 0;
	char dsts[8][INET6_ADDRSTRLEN];
	int toss[8];
	static unsigned char seen[1 << 20];
	struct sockaddr_storage ss;
	double deadline;
	socklen_t sl;

	for (i = 0; i < argc; i++) {
		if ((v = kv(argv[i], "port")))
			port = strtol(v, NULL, 0);
		else if ((v = kv(argv[i], "fam")))
			fam = parse_fam(v);
		else if ((v = kv(argv[i], "ready")))
			ready = v;
		else if ((v = kv(argv[i], "timeout")))
			timeout = strtol(v, NULL, 0);
		else if ((v = kv(argv[i], "tos")))
			want_tos = strtol(v, NULL, 0);
		else
			usage("recv: unknown word");
	}
	fd = socket(fam, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (fam == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		if (want_tos)
			setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		if (want_tos)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	sockaddr_of(fam == AF_INET ? "0.0.0.0" : "::", port, &ss, &sl);
	if (bind(fd, (void *)&ss, sl)) {
		perror("bind");
		return 1;
	}
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (f)
			fclose(f);
	}
	deadline = now_ms() + timeout * 1000.0;
	while (expected < 0 || received < expected) {
		char buf[128], cbuf[256], d[INET6_ADDRSTRLEN] = "?";
		int tos = -1;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct cmsghdr *c;
		double left = deadline - now_ms();
		ssize_t n;
		long seq;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = recvmsg(fd, &mh, 0);
		if (n < 0)
			continue;
		buf[n] = 0;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
				inet_ntop(AF_INET, &((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr,
					  d, sizeof(d));
			if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
				inet_ntop(AF_INET6, &((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr,
					  d, sizeof(d));
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
				tos = *(unsigned char *)CMSG_DATA(c);
			if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)
				memcpy(&tos, CMSG_DATA(c), sizeof(tos));
		}
		for (i = 0; want_tos && i < nt && toss[i] != tos; i++)
			;
		if (want_tos && i == nt && nt < 8)
			toss[nt++] = tos;
		for (i = 0; i < nd && strcmp(dsts[i], d); i++)
			;
		if (i == nd && nd < 8)
			strcpy(dsts[nd++], d);
		if (sscanf(buf, "seq %ld", &seq) == 1 && seq >= 0 && seq < (long)sizeof(seen)) {
			if (!seen[seq]) {
				seen[seq] = 1;
				received++;
			}
		} else if (sscanf(buf, "end %ld", &seq) == 1) {
			expected = seq;
			/* Whatever is still queued arrives within a moment. */
			deadline = now_ms() + 2000;
		}
	}
	printf("received=%ld expected=%ld missing=%ld dst=", received, expected,
	       expected < 0 ? -1 : expected - received);
	for (i = 0; i < nd; i++)
		printf("%s%s", i ? "," : "", dsts[i]);
	if (want_tos)
		printf(" tos=");
	for (i = 0; i < nt; i++)
		printf("%s%d", i ? "," : "", toss[i]);
	printf("\n");
	return expected >= 0 && received == expected ? 0 : 1;
}

/* One netlink command on the open socket; argv[0] is the command. */
static int run_cmd(int argc, char **argv)
{
	struct dump_state st = { 0 };
	const char *cmd, *v;
	struct msg m;
	int err;

	if (argc > 1 && (v = kv(argv[0], "fail"))) {
		fail_nth = strtoul(v, NULL, 0);
		argc--;
		argv++;
	}
	if (argc < 1)
		usage("no command");
	cmd = argv[0];
	argc--;
	argv++;
	if (!strcmp(cmd, "newns")) {
		fault_arm();
		err = unshare(CLONE_NEWNET) ? errno : 0;
		fault_report();
		if (err) {
			fprintf(stderr, "error: %s unshare(CLONE_NEWNET): %s\n",
				err_name(err), strerror(err));
			return 1;
		}
		return 0;
	}
	if (!strcmp(cmd, "resolve")) {
		printf("family %s id %u\n", L3DSR_GENL_NAME, fam_id);
		return 0;
	}
	if (!strcmp(cmd, "add") || !strcmp(cmd, "replace")) {
		msg_init(&m, fam_id, !strcmp(cmd, "replace") ? NLM_F_REPLACE : 0,
			 L3DSR_CMD_MAP_ADD);
		if (argc)
			put_entries(&m, argc, argv);
		return nl_talk(&m, NULL, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "del")) {
		msg_init(&m, fam_id, 0, L3DSR_CMD_MAP_DEL);
		if (argc)
			put_entries(&m, argc, argv);
		return nl_talk(&m, NULL, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "get")) {
		msg_init(&m, fam_id, 0, L3DSR_CMD_MAP_GET);
		if (argc)
			put_entries(&m, argc, argv);
		err = nl_talk(&m, on_entry_reply, &st, NULL);
		if (!err)
			printf("generation=%u\n", st.generation);
		return err ? 1 : 0;
	}
	if (!strcmp(cmd, "dump")) {
		const char *resume = NULL;

		for (; argc > 0; argc--, argv++) {
			if ((v = kv(argv[0], "resume")))
				resume = v;
			else if (!strcmp(argv[0], "quiet"))
				st.quiet = 1;
			else
				usage("dump: unknown word");
		}
		msg_init(&m, fam_id, NLM_F_DUMP, L3DSR_CMD_MAP_GET);
		err = nl_talk(&m, on_entry_reply, &st, resume);
		printf("generation=%u entries=%lu intr=%d\n", st.generation, st.entries, st.intr);
		return err ? 1 : 0;
	}
	if (!strcmp(cmd, "flush")) {
		msg_init(&m, fam_id, 0, L3DSR_CMD_MAP_FLUSH);
		if (argc && (v = kv(argv[0], "fam"))) {
			uint8_t f = parse_fam(v);

			attr_put(&m, L3DSR_A_FAMILY, &f, 1);
		}
		return nl_talk(&m, NULL, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "stats")) {
		msg_init(&m, fam_id, 0, L3DSR_CMD_STATS_GET);
		return nl_talk(&m, on_stats_reply, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "mode")) {
		uint8_t mode;

		if (argc != 1)
			usage("mode rule|direct|N");
		mode = !strcmp(argv[0], "rule") ? L3DSR_MODE_RULE :
		       !strcmp(argv[0], "direct") ? L3DSR_MODE_DIRECT :
		       (uint8_t)atoi(argv[0]);
		msg_init(&m, fam_id, 0, L3DSR_CMD_MODE_SET);
		attr_put(&m, L3DSR_A_MODE, &mode, 1);
		return nl_talk(&m, NULL, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "begin")) {
		uint32_t id;

		if (cmd_begin(&id))
			return 1;
		printf("%u\n", id);
		return 0;
	}
	if (!strcmp(cmd, "radd")) {
		int used;

		msg_init(&m, fam_id, 0, L3DSR_CMD_REPLACE_ADD);
		used = put_id(&m, argc, argv);
		if (argc > used)
			put_entries(&m, argc - used, argv + used);
		return nl_talk(&m, NULL, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "commit") || !strcmp(cmd, "abort")) {
		msg_init(&m, fam_id, 0, !strcmp(cmd, "commit") ?
			 L3DSR_CMD_REPLACE_COMMIT : L3DSR_CMD_REPLACE_ABORT);
		put_id(&m, argc, argv);
		return nl_talk(&m, NULL, NULL, NULL) ? 1 : 0;
	}
	if (!strcmp(cmd, "bulk"))
		return cmd_bulk(argc, argv);
	usage("unknown command");
	return 2;
}

/* Commands read from stdin, one per line, all on one socket: a staged
 * replace lives only as long as the socket that began it, so a test that
 * stages across several steps keeps this running (a bash coproc). Each
 * command's output, errors included, ends with a line "@@rc=N".
 */
static int cmd_shell(void)
{
	char line[65536], *words[4096], *save, *w;
	int n, rc;

	if (dup2(1, 2) < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		n = 0;
		for (w = strtok_r(line, " \t\n", &save); w && n < 4095;
		     w = strtok_r(NULL, " \t\n", &save))
			words[n++] = w;
		words[n] = NULL;
		if (!n)
			continue;
		rc = run_cmd(n, words);
		printf("@@rc=%d\n", rc);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc >= 3 && !strcmp(argv[1], "-n")) {
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "/run/netns/%s", argv[2]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			fprintf(stderr, "l3dsr-nltest: entering %s: %s\n", path, strerror(errno));
			return 1;
		}
		close(fd);
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		usage("no command");
	cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (!strcmp(cmd, "send"))
		return cmd_send(argc, argv);
	if (!strcmp(cmd, "recv"))
		return cmd_recv(argc, argv);

	txbuf = malloc(BUFSZ);
	rxbuf = malloc(BUFSZ);
	if (!txbuf || !rxbuf || nl_open())
		return 1;

	if (!strcmp(cmd, "shell"))
		return cmd_shell();
	return run_cmd(argc + 1, argv - 1);
}
