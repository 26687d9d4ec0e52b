#!/usr/bin/env python3
"""Turns the bench's data lines into Markdown tables and the plot's data.

Usage: report.py [--check] [--plot-dir DIR] [--cmd CMD] KREL=FILE...

FILE holds the lines `BENCH <kind> ...` a bench scenario printed (tests/bench/lib/*.sh say
which). Writes the Markdown to stdout; with --plot-dir, one file per kernel and family,
DIR/vips-KREL-ipvFAM.dat, for tests/bench/vips.gp, and one per kernel,
DIR/cp-KREL.dat, for tests/bench/cp.gp. With --check (the smoke run), only checks
that every figure parses and is > 0 and that each file has figures, and says what it found;
exit 1 otherwise. Figures are never judged by size there.

Each receive-path figure is the median, min and max over the rounds of the per-round ratio
to the baseline measured in the same round (same boot, same family and size).
"""

import argparse
import statistics
import sys
from collections import defaultdict

RX_ORDER = [
    ("base-none", "baseline (a) again, in a fresh namespace: the noise of a pair"),
    ("base-rawlegacy", "baseline (b): empty legacy raw table (iptables-legacy -t raw -L)"),
    ("base-rawnft", "baseline (b'): empty nft chain at priority raw (ip and ip6 tables)"),
    ("rev0-1", "rev0, one rule"),
    ("rev0-63", "rev0, 63-rule chain, hit last (Yahoo's layout)"),
    ("map-1", "map mode, 1 entry"),
    ("map-63", "map mode, 63 entries"),
    ("map-4096", "map mode, 4,096 entries"),
    ("map-65536", "map mode, 65,536 entries"),
    ("map-direct-1", "map, direct hook, 1 entry"),
    ("map-direct-63", "map, direct hook, 63 entries"),
    ("map-direct-4096", "map, direct hook, 4,096 entries"),
    ("map-direct-65536", "map, direct hook, 65,536 entries"),
    ("nft-1", "nft, 1 rule"),
    ("nft-63", "nft, 63 rules, hit last"),
    ("nft-map", "nft, one rule with a 63-entry map"),
]
# The rounds bench.sh makes; a figure of fewer says so.
ROUNDS = 5
COLS = [("4", "64"), ("4", "1400"), ("6", "64"), ("6", "1400")]
REFERENCE = {"rev0-1": 0.81, "rev0-63": 0.66, "nft-1": 0.78, "nft-map": 0.74}
E2E_ORDER = [
    ("dsr", "L3 DSR (IPVS NAT + DSCP, DADDR on the real server)"),
    ("tun", "IPVS tunnel (IPIP, tunl0 on the real server)"),
    ("nat", "IPVS NAT (replies back through the director)"),
]
CP_ORDER = [
    ("l3dsr-add-63", "63 VIPs: 63 x `l3dsr rule add` (map)"),
    ("l3dsr-replace-63", "63 VIPs: one `l3dsr rule replace -f` (map)"),
    ("ipt-restore-63", "63 VIPs: one `iptables-legacy-restore` of 63 rev0 rules"),
    ("ipt-append-63", "63 VIPs: 63 x `iptables-legacy -t raw -A` (dsrtools)"),
    ("l3dsr-replace-65536", "replace a 65,536-entry table with another (`l3dsr rule replace -f`)"),
    ("ipvsadm-1000", "1,000 IPVS services x 4 reals: `ipvsadm -R`"),
    ("ipvsgo-1000", "1,000 IPVS services x 4 reals: our Go IPVS client"),
]


class Bad(Exception):
    pass


def num(s, what, line):
    try:
        v = float(s)
    except ValueError:
        raise Bad(f"{what} {s!r} is not a number in line: {line}")
    return v


def load(path):
    d = {"env": {}, "rx": defaultdict(dict), "e2e": defaultdict(dict), "cp": defaultdict(dict)}
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if not line.startswith("BENCH\t"):
                continue
            p = line.split("\t")
            kind = p[1]
            if kind == "env" and len(p) >= 4:
                d["env"][p[2]] = p[3]
            elif kind == "rx" and len(p) == 10:
                _, _, rnd, cfg, fam, size, pps, sent, deliv, base = p
                d["rx"][(cfg, fam, size)][int(rnd)] = (
                    num(pps, "pps", line), num(sent, "sent", line), num(deliv, "delivered", line),
                    num(base, "baseline pps", line))
            elif kind == "e2e" and len(p) == 7:
                _, _, rnd, var, bps, mss, pmtu = p
                d["e2e"][var][int(rnd)] = (num(bps, "bits/s", line), mss, pmtu)
            elif kind == "cp" and len(p) == 5:
                _, _, rnd, what, secs = p
                d["cp"][what][int(rnd)] = num(secs, "seconds", line)
            else:
                raise Bad(f"unparseable data line: {line}")
    return d


def check(name, d):
    n = 0
    for key, rounds in d["rx"].items():
        for rnd, (pps, sent, deliv, base) in rounds.items():
            if pps <= 0 or sent <= 0 or base <= 0:
                raise Bad(f"{name}: rx {key} round {rnd}: rate {pps}, sent {sent}: want > 0")
            if deliv != sent:
                raise Bad(f"{name}: rx {key} round {rnd}: {sent:.0f} sent, {deliv:.0f} delivered")
            n += 1
    for var, rounds in d["e2e"].items():
        for rnd, (bps, mss, _) in rounds.items():
            if bps <= 0 or not mss.isdigit() or int(mss) <= 0:
                raise Bad(f"{name}: e2e {var} round {rnd}: {bps} bit/s, MSS {mss!r}: want > 0")
            n += 1
    for what, rounds in d["cp"].items():
        for rnd, secs in rounds.items():
            if secs <= 0:
                raise Bad(f"{name}: cp {what} round {rnd}: {secs} s: want > 0")
            n += 1
    if n == 0:
        raise Bad(f"{name}: no figures")
    return n


def mmm(vals):
    return statistics.median(vals), min(vals), max(vals)


def ratios(d, cfg, fam, size):
    """Per-round ratios of CONFIG to the baseline-(a) run made right before it."""
    a = d["rx"].get((cfg, fam, size), {})
    return [a[r][0] / a[r][3] for r in sorted(a) if a[r][3] > 0]


def fmt_ratio(vals, want=0):
    if not vals:
        return "n/a"
    m, lo, hi = mmm(vals)
    short = f" [{len(vals)}]" if len(vals) < want else ""
    return f"{m:.2f} ({lo:.2f}–{hi:.2f}){short}"


def machine(env):
    return (f"kernel {env.get('kernel', '?')}, qemu TCG, {env.get('nproc', '?')} vCPUs "
            f"(`{env.get('cpu', '?')}`), {env.get('mem', '?')} RAM")


def runs(d, kind):
    """The most runs any row of d[kind] has; 0 when there is none."""
    return max((len(v) for v in d[kind].values()), default=0)


def section(out, title, note, cols):
    """A section's title, its note (if any) and the header of its Markdown table."""
    out.append(f"#### {title}\n")
    if note:
        out.append(f"{note}\n")
    out.append("| " + " | ".join(cols) + " |")
    out.append("|" + "---|" * len(cols))


def runs_section(out, d, kind, title, note, cols):
    """section() for the runs of one kind, its note after the machine, with {n} the number of
    runs; returns that number, and writes nothing when it is 0."""
    n = runs(d, kind)
    if n:
        section(out, title, f"{machine(d['env'])}. " + note.format(n=n), cols)
    return n


def rx_table(krel, d, out):
    nrounds = runs(d, "rx")
    section(out, f"Receive path, {krel}",
            f"{machine(d['env'])}; host: {HOST}. Ratio to the baseline-(a) run of the same "
            f"round (made at its start), median (min–max) over the rounds ({nrounds} at most; a "
            f"cell of fewer than {ROUNDS} says how many in brackets); packets per run: "
            f"{int(next(iter(next(iter(d['rx'].values())).values()))[1]) if d['rx'] else 0}.",
            ["configuration", "IPv4 64 B", "IPv4 1,400 B", "IPv6 64 B", "IPv6 1,400 B"])
    for cfg, label in RX_ORDER:
        if not any((cfg, f, s) in d["rx"] for f, s in COLS):
            continue
        cells = [fmt_ratio(ratios(d, cfg, f, s), ROUNDS) for f, s in COLS]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for f, s in COLS:
        b = [v[3] for (c, f2, s2), rr in d["rx"].items() if (f2, s2) == (f, s) for v in rr.values()]
        cells.append(f"{statistics.median(b) / 1000:.0f} kpps" if b else "n/a")
    out.append("| *baseline (a), absolute (median)* | " + " | ".join(cells) + " |")
    out.append("")


FWD_ORDER = [("fwd-plain", "forwarded, no rule (the baseline of these rows)"),
             ("fwd-ipip", "forwarded into ipip, decapsulated on tunl0 (LVS-TUN)"),
             ("fwd-rev0-1", "forwarded to the RIP + DSCP, rev0, one rule"),
             ("fwd-map-1", "forwarded to the RIP + DSCP, map mode, 1 entry"),
             ("fwd-map-63", "forwarded to the RIP + DSCP, map mode, 63 entries"),
             ("fwd-map-65536", "forwarded to the RIP + DSCP, map mode, 65,536 entries"),
             ("fwd-nft-1", "forwarded to the RIP + DSCP, nft, 1 rule"),
             ("fwd-nft-map", "forwarded to the RIP + DSCP, nft, one rule with a 63-entry map")]


def fwd_rounds(d, cfg, s):
    """Per round: (ratio to fwd-plain, extra µs per packet over fwd-plain, estimated ratio to
    the no-rule baseline). The estimate adds the extra time to the time per packet of the
    round's baseline (a), which is measured without the sender: t_a / (t_a + extra)."""
    a, b = d["rx"].get((cfg, "4", s), {}), d["rx"].get(("fwd-plain", "4", s), {})
    out = []
    for r in sorted(a):
        if r not in b or a[r][3] <= 0:
            continue
        extra = 1 / a[r][0] - 1 / b[r][0]
        ta = 1 / a[r][3]
        out.append((a[r][0] / b[r][0], extra * 1e6, ta / (ta + extra)))
    return out


def fmt_us(vals):
    if not vals:
        return "n/a"
    m, lo, hi = mmm(vals)
    return f"{m:+.2f} ({lo:+.2f}–{hi:+.2f})"


def fwd_table(krel, d, out):
    if not any((c, "4", s) in d["rx"] for c, _ in FWD_ORDER for s in ("64", "1400")):
        return
    section(out, f"Behind a forwarding sender (IPv4): IPIP decapsulation, and the rewrite "
            f"without the header copy, {krel}",
            f"{machine(d['env'])}. pktgen feeds the sender, the real server counts "
            f"(delivered == sent in every run). Per round: the rate of each row divided by "
            f"the rate of fwd-plain; the extra time per packet over fwd-plain (µs of TCG time); "
            f"and that extra time added to the round's no-rule baseline (a): the ratio the "
            f"row would have in the receive-path table without the header copy. Median "
            f"(min–max). The estimate is not given for IPIP, whose extra time includes the "
            f"sender's encapsulation.",
            ["path"] + [f"{s}: {c}" for s in ("64 B", "1,400 B")
                        for c in ("ratio to fwd-plain", "extra µs/packet",
                                  "estimated ratio to baseline (a)")])
    for cfg, label in FWD_ORDER:
        cells = []
        for s in ("64", "1400"):
            v = fwd_rounds(d, cfg, s)
            cells.append(fmt_ratio([x[0] for x in v], ROUNDS))
            cells.append(fmt_us([x[1] for x in v]))
            cells.append("—" if cfg == "fwd-ipip" else fmt_ratio([x[2] for x in v], ROUNDS))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")


PASS_ORDER = [
    ("pass-none", "no rules (a fresh namespace)"),
    ("pass-rev0-63", "rev0, 63-rule chain (every rule misses)"),
    ("pass-map-65536", "map mode, 65,536 entries per family (none for DSCP 0)"),
    ("pass-map-direct-65536", "map, direct hook, 65,536 entries per family (none for DSCP 0)"),
    ("pass-nft-63", "nft, 63 rules (every rule misses)"),
    ("pass-nft-map", "nft, one rule with a 63-entry map (no element for DSCP 0)"),
]


def pass_table(krel, d, out):
    if not any((c, f, "64") in d["rx"] for c, _ in PASS_ORDER for f in ("4", "6")):
        return
    section(out, f"Ordinary traffic through each layout (DSCP 0 to the real server's own "
            f"address, 64 B), {krel}",
            f"{machine(d['env'])}. The packets a real server takes besides DSR traffic: no "
            f"layout rewrites them, each must let them through. Ratio to the round's baseline "
            f"(a) (no tables, packets to the VIP on lo); median (min–max).",
            ["layout", "IPv4 64 B", "IPv6 64 B"])
    for cfg, label in PASS_ORDER:
        cells = [fmt_ratio(ratios(d, cfg, f, "64"), ROUNDS) for f in ("4", "6")]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")


def goal_rows(val, base, sizes, others, suffix=""):
    """The map-mode goals as (met, text) rows. val(cfg): per-round figures that compare
    configurations with each other; base(cfg): per-round ratios to the no-rule baseline;
    sizes: the map-mode configurations, 1 entry first, 65,536 last, 63 among them."""
    med = {c: statistics.median(val(c)) for c in sizes + [o for o, _ in others] if val(c)}
    rows = []
    one, big, m63 = sizes[0], sizes[-1], next(c for c in sizes if c.endswith("-63"))
    if one in med and big in med:
        m = med[big] / med[one]
        rows.append((m >= 0.97, f"flat: 65,536 entries within 3% of 1 entry: {med[big]:.3f}{suffix} "
                                f"/ {med[one]:.3f}{suffix} = {m:.3f}"))
    low = [(statistics.median(base(c)), c) for c in sizes if base(c)]
    if low:
        m, c = min(low)
        n = c.rsplit("-", 1)[1]
        rows.append((m >= 0.85, f"≥ 0.85× the no-rule baseline: lowest map size "
                                f"({int(n):,} entr{'y' if n == '1' else 'ies'}) at {m:.3f}×"))
    for other, label in others:
        if m63 in med and other in med:
            rows.append((med[m63] > med[other], f"faster than {label}: map-63 {med[m63]:.3f}{suffix} "
                                                f"vs {med[other]:.3f}{suffix}"))
    return rows


def goals(krel, d, out):
    out.append(f"#### Map-mode goals, {krel} (64-byte packets; ratios are medians of per-round ratios)\n")
    for fam in ("4", "6"):
        def val(c, fam=fam):
            return ratios(d, c, fam, "64")
        rows = goal_rows(val, val, ["map-1", "map-63", "map-4096", "map-65536"],
                         [("rev0-63", "Yahoo's 63-rule chain"), ("rev0-1", "one rev0 rule"),
                          ("nft-map", "the nft map")], "×")
        for ok, text in rows:
            out.append(f"- [{'x' if ok else ' '}] IPv{fam}: {text} — **{'pass' if ok else 'FAIL'}**")
    out.append("")


DIRECT = ["map-direct-1", "map-direct-63", "map-direct-4096", "map-direct-65536"]


def direct_goal_rows(d, fam):
    """Issue 18's goals for the direct path, IPv(fam) 64 B, as (met, text) rows; a goal whose
    rows were not measured is left out."""
    med = {c: statistics.median(v) for c in DIRECT + ["rev0-1", "pass-map-direct-65536"]
           if (v := ratios(d, c, fam, "64"))}
    rows = []
    one, big = DIRECT[0], DIRECT[-1]
    if big in med:
        rows.append((med[big] >= 0.90, f"≥ 0.90× no rule at 65,536 entries: {med[big]:.3f}×"))
    if one in med and big in med:
        m = med[big] / med[one]
        rows.append((m >= 0.97, f"flat: 65,536 entries within 3% of 1 entry: {med[big]:.3f}× / "
                                f"{med[one]:.3f}× = {m:.3f}"))
    noise = ratios(d, "base-none", fam, "64")
    low = min((med[c], c) for c in DIRECT if c in med) if any(c in med for c in DIRECT) else None
    if low and "rev0-1" in med and noise:
        spread = max(noise) - min(noise)
        rows.append((low[0] - med["rev0-1"] > spread,
                     f"faster than one rev0 rule by more than the noise row's spread: slowest direct "
                     f"size ({low[1]}) {low[0]:.3f}× − rev0-1 {med['rev0-1']:.3f}× = "
                     f"{low[0] - med['rev0-1']:+.3f}, spread of base-none {spread:.3f}"))
    if "pass-map-direct-65536" in med:
        m = med["pass-map-direct-65536"]
        rows.append((m >= 0.97, f"ordinary traffic through 65,536 entries ≥ 0.97× no rule: {m:.3f}×"))
    return rows


def goals_direct(krel, d, out):
    rows = [(fam, r) for fam in ("4", "6") for r in direct_goal_rows(d, fam)]
    if not rows:
        return
    out.append(f"#### Direct-path goals, {krel} (64-byte packets; ratios are medians of per-round ratios)\n")
    for fam, (ok, text) in rows:
        out.append(f"- [{'x' if ok else ' '}] IPv{fam}: {text} — **{'pass' if ok else 'FAIL'}**")
    out.append("")


def goals_fwd(krel, d, out):
    if not fwd_rounds(d, "fwd-map-63", "64"):
        return
    out.append(f"#### Map-mode goals without the header copy, {krel} (IPv4, behind the "
               f"forwarding sender; rates relative to fwd-plain, and the estimated ratio to the "
               f"no-rule baseline; medians of per-round figures)\n")
    for s in ("64", "1400"):
        def val(c, s=s):
            return [x[0] for x in fwd_rounds(d, c, s)]

        def est(c, s=s):
            return [x[2] for x in fwd_rounds(d, c, s)]
        rows = goal_rows(val, est, ["fwd-map-1", "fwd-map-63", "fwd-map-65536"],
                         [("fwd-rev0-1", "one rev0 rule"), ("fwd-nft-1", "one nft rule"),
                          ("fwd-nft-map", "the nft map")])
        for ok, text in rows:
            out.append(f"- [{'x' if ok else ' '}] {int(s):,} B: {text} — "
                       f"**{'pass' if ok else 'FAIL'}**")
    out.append("")


def reference(krel, d, out):
    section(out, f"Against the issue's reference (Debian 6.1, TCG, IPv4 64 B), {krel}", "",
            ["configuration", "reference", "measured here"])
    for cfg, ref in REFERENCE.items():
        label = dict(RX_ORDER)[cfg]
        out.append(f"| {label} | {ref:.2f} | {fmt_ratio(ratios(d, cfg, '4', '64'))} |")
    out.append(f"| map mode, 63 entries | — | {fmt_ratio(ratios(d, 'map-63', '4', '64'))} |")
    out.append("")


def e2e_table(krel, d, out):
    if not runs_section(out, d, "e2e", f"End-to-end iperf3 TCP goodput (IPv4), {krel}",
                        "Median (min–max) of {n} runs; ratio to IPVS NAT per round.",
                        ["path", "goodput Mbit/s", "ratio to NAT", "client MSS", "path MTU"]):
        return
    nat = d["e2e"].get("nat", {})
    for var, label in E2E_ORDER:
        r = d["e2e"].get(var)
        if not r:
            continue
        m, lo, hi = mmm([v[0] / 1e6 for v in r.values()])
        rat = [r[k][0] / nat[k][0] for k in r if k in nat]
        msss = sorted({v[1] for v in r.values()})
        pmtus = sorted({v[2] for v in r.values()})
        out.append(f"| {label} | {m:.0f} ({lo:.0f}–{hi:.0f}) | {fmt_ratio(rat)} | "
                   f"{', '.join(msss)} | {', '.join(pmtus)} |")
    out.append("")


def cp_table(krel, d, out):
    if not runs_section(out, d, "cp", f"Control plane wall time, {krel}",
                        "Seconds, median (min–max) of {n} runs, each in a fresh namespace; "
                        "every process start is slow under TCG.",
                        ["operation", "seconds"]):
        return
    for what, label in CP_ORDER:
        r = d["cp"].get(what)
        if r:
            m, lo, hi = mmm(list(r.values()))
            out.append(f"| {label} | {m:.3f} ({lo:.3f}–{hi:.3f}) |")
    out.append("")


DIR_NS = [63, 252, 1008, 4032]


def dir_table(krel, d, out):
    """Director apply (issue 27) against the stock tools loading the same state, per N."""
    if not any(f"dir-apply-{n}" in d["cp"] for n in DIR_NS):
        return
    section(out, f"Director apply against the stock tools, {krel}",
            f"{machine(d['env'])}. Seconds, median (min–max) over the rounds, each in a fresh "
            "namespace; N dscp services of 2 reals each. Baseline: the same end state by "
            "`ip -batch` + `ipvsadm -R` + one `nft -f`. Ratio: apply over the baseline of the "
            "same round. Growth: the apply's median over that of N/4. One real changed: its weight, "
            "by an apply of the whole file, and by one `l3dsr director real edit`.",
            ["services", "baseline", "`apply` from nothing", "ratio", "growth", "one real changed: `apply`",
             "`real edit`"])
    prev = None
    for n in DIR_NS:
        base, app, app1, edit1 = (d["cp"].get(f"dir-{w}-{n}", {}) for w in ("base", "apply", "apply1", "edit1"))
        if not (base or app or app1 or edit1):
            continue
        rat = [app[r] / base[r] for r in app if base.get(r)]
        m = statistics.median(app.values()) if app else None
        growth = f"{m / prev:.1f}×" if m and prev and n // 4 in DIR_NS else "n/a"
        out.append(f"| {n:,} | {cp_cell(base)} | {cp_cell(app)} | {fmt_ratio(rat)} | {growth} | {cp_cell(app1)} | "
                   f"{cp_cell(edit1)} |")
        prev = m
    out.append("")


RS_NS = [63, 1008, 4032]


def rs_table(krel, d, out):
    """Real-server apply (issue 27) against `ip -batch` + one `rule replace`, per N."""
    if not any(f"rs-{w}-{n}" in d["cp"] for n in RS_NS for w in ("base", "apply", "apply1")):
        return
    section(out, f"Real-server apply against the stock tools, {krel}",
            f"{machine(d['env'])}. Seconds, median (min–max) over the rounds, each in a fresh "
            "namespace; N dscp VIPs with `local` keys (63 codes per local address). Baseline: "
            "the same end state by `ip -batch` (the VIPs on lo) + one `l3dsr rule replace -f` "
            "(the N entries and the map-mode rule). Ratio: apply over the baseline of the same "
            "round. Growth: the apply's median at 4,032 VIPs over that at 1,008.",
            ["VIPs", "baseline", "`apply` from nothing", "ratio", "growth", "one VIP added"])
    meds = {}
    for n in RS_NS:
        base, app, app1 = (d["cp"].get(f"rs-{w}-{n}", {}) for w in ("base", "apply", "apply1"))
        if not (base or app or app1):
            continue
        rat = [app[r] / base[r] for r in app if base.get(r)]
        if app:
            meds[n] = statistics.median(app.values())
        growth = f"{meds[n] / meds[n // 4]:.1f}×" if n in meds and n // 4 in meds else "n/a"
        out.append(f"| {n:,} | {cp_cell(base)} | {cp_cell(app)} | {fmt_ratio(rat)} | {growth} | "
                   f"{cp_cell(app1)} |")
    out.append("")


def cp_cell(r):
    return "n/a" if not r else "{:.3f} ({:.3f}–{:.3f})".format(*mmm(list(r.values())))


def dir_plot(krel, d, outdir):
    """cp-KREL.dat for cp.gp: two blocks (gnuplot's index 0 and 1), the director's services and
    the real server's VIPs, each row N and the medians of the baseline, the apply from nothing,
    the apply with one change and the one command of that change (the director's `real edit`;
    NaN: not run). Every N has its row, so no block is empty."""
    with open(f"{outdir}/cp-{krel}.dat", "w", encoding="utf-8") as f:
        for i, (prefix, ns, unit) in enumerate([("dir", DIR_NS, "services"), ("rs", RS_NS, "vips")]):
            if i:
                f.write("\n\n")
            f.write(f"# {prefix}: {unit} baseline apply apply1 edit1 (seconds, medians; NaN: not run)\n")
            for n in ns:
                meds = []
                for w in ("base", "apply", "apply1", "edit1"):
                    r = d["cp"].get(f"{prefix}-{w}-{n}")
                    meds.append(f"{statistics.median(r.values()):.4f}" if r else "NaN")
                f.write(f"{n} {' '.join(meds)}\n")


PLOT_SERIES = [("map", ["map-1", "map-63", "map-4096", "map-65536"], [1, 63, 4096, 65536]),
               ("rev0", ["rev0-1", "rev0-63"], [1, 63]),
               ("nftrules", ["nft-1", "nft-63"], [1, 63]),
               ("nftmap", ["nft-map"], [63]),
               ("mapdirect", ["map-direct-1", "map-direct-63", "map-direct-4096", "map-direct-65536"],
                [1, 63, 4096, 65536])]


def plot_data(krel, d, outdir):
    for fam in ("4", "6"):
        with open(f"{outdir}/vips-{krel}-ipv{fam}.dat", "w", encoding="utf-8") as f:
            for name, cfgs, xs in PLOT_SERIES:
                # gnuplot's `index` skips a block without data: keep one NaN point in each.
                f.write(f"# {name}: vips median min max\n{xs[0]} NaN NaN NaN\n")
                for cfg, x in zip(cfgs, xs):
                    v = ratios(d, cfg, fam, "64")
                    if v:
                        m, lo, hi = mmm(v)
                        f.write(f"{x} {m:.4f} {lo:.4f} {hi:.4f}\n")
                f.write("\n\n")


HOST = "?"


def main():
    global HOST
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--plot-dir")
    ap.add_argument("--host", default="?")
    ap.add_argument("files", nargs="+", metavar="KREL=FILE")
    a = ap.parse_args()
    HOST = a.host
    data = []
    try:
        for spec in a.files:
            krel, _, path = spec.partition("=")
            if not path:
                raise Bad(f"{spec!r}: give KREL=FILE")
            data.append((krel, load(path)))
        if a.check:
            for krel, d in data:
                print(f"{krel}: {check(krel, d)} figures, all parseable and > 0")
            return 0
        out = []
        # Section by section, each with every kernel.
        for section in (rx_table, fwd_table, pass_table, goals, goals_direct, goals_fwd, reference, e2e_table,
                        cp_table, dir_table, rs_table):
            for krel, d in data:
                section(krel, d, out)
        print("\n".join(out))
        if a.plot_dir:
            for krel, d in data:
                plot_data(krel, d, a.plot_dir)
                dir_plot(krel, d, a.plot_dir)
    except (Bad, OSError) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
