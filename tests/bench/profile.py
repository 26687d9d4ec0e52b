#!/usr/bin/env python3
"""Groups bench_profile's flat kernel profiles into the table of BENCHMARKS.md.

Usage: profile.py LOG

LOG is the log of tests/bench/scenarios/bench_profile.sh (build/vm/KREL/logs/bench_profile.log);
its lines `PROFILE<TAB>CONFIG<TAB>PERCENT%<TAB>SYMBOL` are the symbols above 0.4% of CPU 0's
samples. Writes one Markdown row per configuration: the share of each group (a lower bound:
symbols under 0.4% are not listed) and the top symbols of the groups.
"""

import re
import sys
from collections import defaultdict

GROUPS = [
    ("xtables hook + rule walk", re.compile(r"^(ip6?t_do_table|nf_hook_slow|dscp_mt6?|xt_\w+)$")),
    ("DADDR target (lookup, rewrite, counters)",
     re.compile(r"^(daddr_\w+|inet_proto_csum_replace\w*|rht_\w+|jhash\w*)$")),
    ("nftables", re.compile(r"^nft_\w+$")),
    ("skb head alloc, copy, free",
     re.compile(r"^(pskb_expand_head|__?kmalloc\w*|kmalloc_\w+|__kmem_cache_alloc\w*|"
                r"kmem_cache_alloc\w*|memcpy\w*|kfree|skb_release_data|kmem_cache_free)$")),
]
ORDER = ["base-none", "base-rawlegacy", "rev0-1", "map-63", "map-65536", "nft-1", "nft-map"]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    prof = defaultdict(list)
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 4 and p[0] == "PROFILE" and p[2].endswith("%"):
                prof[p[1]].append((float(p[2][:-1]), p[3]))
    if not prof:
        print(f"profile.py: no PROFILE lines in {sys.argv[1]}", file=sys.stderr)
        return 1
    print("| configuration | " + " | ".join(g for g, _ in GROUPS) +
          " | top symbols of the rule/target path |")
    print("|---|" + "---|" * (len(GROUPS) + 1))
    for cfg in [c for c in ORDER if c in prof] + sorted(set(prof) - set(ORDER)):
        shares = []
        top = []
        for _, rx in GROUPS:
            hits = [(pct, sym) for pct, sym in prof[cfg] if rx.match(sym)]
            shares.append(sum(pct for pct, _ in hits))
            top += hits
        top.sort(reverse=True)
        print(f"| {cfg} | " + " | ".join(f"{s:.1f}%" for s in shares) + " | " +
              ", ".join(f"`{sym}` {pct:.1f}%" for pct, sym in top[:5]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
