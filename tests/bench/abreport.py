#!/usr/bin/env python3
"""The A/B bench's table (tests/bench/run.sh --ab): two module builds, one boot.

Usage: abreport.py KREL=FILE...

FILE holds the lines scenarios/bench_ab.sh printed:
    BENCH env KEY VALUE                  (ab-A and ab-B name the builds)
    BENCHAB ROUND BUILD CONFIG FAM SIZE PPS SENT DELIVERED BASE_PPS
    BENCHAB ROUND BUILD CONFIG FAM SIZE n/a     (the build has no such configuration)
Writes Markdown to stdout, one table per kernel: per configuration and family, A's and B's
rate as a ratio to the median of that build's no-rule baselines over the rounds, and B/A, B's
rate over A's for the same configuration in the same round (the two runs minutes apart); each
the median (min–max) over the rounds. B/A is taken from the rates themselves, so that it
carries the noise of two runs and not that of two baseline runs as well. Exit 1 on an
unparseable line or a file without figures.
"""

import statistics
import sys
from collections import defaultdict

from report import PASS_ORDER, RX_ORDER, Bad, fmt_ratio, num

LABELS = dict(RX_ORDER + PASS_ORDER)


def load(path):
    """(env, rx, bases, na): rx[(cfg, fam, size)][build][round] = pps; bases[(build, fam, size)]
    = the baselines of the build's blocks; na: the (cfg, fam, size, build) the build lacks."""
    env, rx, na = {}, defaultdict(lambda: defaultdict(dict)), set()
    bases = defaultdict(list)
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            p = line.split("\t")
            if p[0] == "BENCH" and len(p) >= 4 and p[1] == "env":
                env[p[2]] = p[3]
            elif p[0] != "BENCHAB":
                continue
            elif len(p) == 7 and p[6] == "n/a" and p[2] in ("A", "B"):
                na.add((p[3], p[4], p[5], p[2]))
            elif len(p) == 10 and p[2] in ("A", "B"):
                _, rnd, build, cfg, fam, size, pps, _, _, base = p
                b = num(base, "baseline pps", line)
                if b <= 0:
                    raise Bad(f"baseline rate {base} is not > 0 in line: {line}")
                rx[(cfg, fam, size)][build][int(num(rnd, "round", line))] = num(pps, "pps", line)
                bases[(build, fam, size)].append(b)
            else:
                raise Bad(f"unparseable data line: {line}")
    if not rx and not na:
        raise Bad(f"{path}: no BENCHAB figures")
    return env, rx, bases, na


def cell(vals, build, key, na, want):
    if not vals and (*key, build) in na:
        return "n/a (not in this build)"
    return fmt_ratio(vals, want)


def table(krel, env, rx, base, na, out):
    keys = sorted(set(rx) | {k[:3] for k in na},
                  key=lambda k: (list(LABELS).index(k[0]) if k[0] in LABELS else len(LABELS), k))
    nrounds = max((len(r) for by in rx.values() for r in by.values()), default=0)
    out.append(f"#### A/B, {krel}: A = {env.get('ab-A', '?')}, B = {env.get('ab-B', '?')}\n")
    out.append(f"A, B: the rate as a ratio to the median of that build's no-rule baselines over the "
               f"rounds; B/A: B's rate over A's for the configuration, per round. Median (min–max) "
               f"over {nrounds} rounds (a cell of fewer says how many in brackets), builds "
               f"alternating ABBA.\n")
    out.append("| configuration | family, size | A | B | B/A |")
    out.append("|---|---|---|---|---|")
    for key in keys:
        cfg, fam, size = key
        a, b = rx.get(key, {}).get("A", {}), rx.get(key, {}).get("B", {})
        ba = [b[r] / a[r] for r in sorted(a) if r in b and a[r] > 0]
        ra = [v / statistics.median(base[("A", fam, size)]) for v in a.values()]
        rb = [v / statistics.median(base[("B", fam, size)]) for v in b.values()]
        out.append(f"| {LABELS.get(cfg, cfg)} | IPv{fam}, {size} B | "
                   f"{cell(ra, 'A', key, na, nrounds)} | "
                   f"{cell(rb, 'B', key, na, nrounds)} | "
                   f"{fmt_ratio(ba, nrounds)} |")
    out.append("")


def main(argv):
    if not argv or any(a.startswith("-") for a in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = []
    try:
        for spec in argv:
            krel, _, path = spec.partition("=")
            if not path:
                raise Bad(f"{spec!r}: give KREL=FILE")
            table(krel, *load(path), out)
    except (Bad, OSError) as e:
        print(f"abreport.py: {e}", file=sys.stderr)
        return 1
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
