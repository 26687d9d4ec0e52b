#!/usr/bin/env python3
"""The soak test's judge (issue 19): does kernel memory end flat?

Reads the soak-sample lines a soak scenario log holds (tests/soak/scenarios/soak.sh):

    soak-sample<TAB>t=S<TAB>slab_kb=..<TAB>sunreclaim_kb=..<TAB>percpu_kb=..<TAB>l3dsr_entry_objs=..
    <TAB>ok=..<TAB>errors=..

writes them as a TSV for gnuplot (--tsv), and judges two series, Slab + Percpu and SUnreclaim:
after a warm-up (the first 10 minutes, or the first sixth of a shorter run) a least-squares line
goes through each, and the run FAILs when the line's growth over the whole run exceeds
max(2 MiB, 2% of the series' mean). A leak of a few objects a second shows as a steady slope
however noisy the samples; caches that fill once (the warm-up) and one-off jumps barely move it.

Usage: flat.py LOG [--tsv OUT]
Exit status: 0 flat, 1 growing or too short to judge (at least 3 samples after the warm-up),
2 usage or unreadable log.
"""

import argparse
import sys

FIELDS = ("t", "slab_kb", "sunreclaim_kb", "percpu_kb", "l3dsr_entry_objs", "ok", "errors")
WARMUP_MAX_S = 600
MIN_SAMPLES = 3
FLOOR_KB = 2048
SHARE = 0.02


def parse(lines):
    """The samples of a log, in order, as dicts of ints (FIELDS); other lines are skipped."""
    out = []
    for n, line in enumerate(lines, 1):
        parts = line.rstrip("\r\n").split("\t")
        if parts[0] != "soak-sample":
            continue
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        try:
            out.append({f: int(kv[f]) for f in FIELDS})
        except (KeyError, ValueError) as e:
            raise ValueError(f"line {n}: bad soak-sample line ({e!r}): {line.strip()}") from e
    return out


def slope(xs, ys):
    """Least-squares slope of ys over xs (per unit of x)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def warmup(duration):
    """Seconds left out at the start: 10 minutes, or a sixth of a run shorter than an hour."""
    return min(WARMUP_MAX_S, duration / 6)


def judge_series(name, ts, ys, duration):
    """(ok, text) for one series: its figures and the verdict."""
    s = slope(ts, ys)
    growth = s * duration
    mean = sum(ys) / len(ys)
    limit = max(FLOOR_KB, SHARE * mean)
    ok = growth <= limit
    text = (f"{name}: start {ys[0]} kB, end {ys[-1]} kB, min {min(ys)} kB, max {max(ys)} kB, "
            f"slope {s * 3600:.1f} KiB/h, growth over {duration:.0f} s {growth:.1f} KiB "
            f"(limit {limit:.1f} KiB): {'flat' if ok else 'GROWING'}")
    return ok, text


def judge(samples):
    """(ok, lines): the verdict on a run's samples and what it is based on."""
    if len(samples) < 2:
        return False, [f"FAIL too short to judge: {len(samples)} sample(s)"]
    t0 = samples[0]["t"]
    duration = samples[-1]["t"] - t0
    w = warmup(duration)
    kept = [s for s in samples if s["t"] - t0 >= w]
    head = (f"{len(samples)} samples over {duration} s; warm-up {w:.0f} s; "
            f"{len(kept)} judged")
    if len(kept) < MIN_SAMPLES:
        return False, [head, f"FAIL too short to judge: want {MIN_SAMPLES} samples after the "
                       f"warm-up, have {len(kept)}"]
    ts = [s["t"] for s in kept]
    lines = [head]
    ok = True
    for name, ys in (("slab+percpu", [s["slab_kb"] + s["percpu_kb"] for s in kept]),
                     ("sunreclaim", [s["sunreclaim_kb"] for s in kept])):
        good, text = judge_series(name, ts, ys, duration)
        ok = ok and good
        lines.append(text)
    lines.append(f"l3dsr_entry objects: max {max(s['l3dsr_entry_objs'] for s in samples)}")
    lines.append("PASS memory flat" if ok else "FAIL memory growing")
    return ok, lines


def write_tsv(samples, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# " + "\t".join(FIELDS[:4]) + "\tslab_percpu_kb\t" + "\t".join(FIELDS[4:]) + "\n")
        for s in samples:
            row = [s[k] for k in FIELDS[:4]] + [s["slab_kb"] + s["percpu_kb"]]
            row += [s[k] for k in FIELDS[4:]]
            f.write("\t".join(str(v) for v in row) + "\n")


def main(argv):
    ap = argparse.ArgumentParser(description="judge the soak test's memory samples")
    ap.add_argument("log")
    ap.add_argument("--tsv", help="write the samples here, one row each, for gnuplot")
    a = ap.parse_args(argv)
    try:
        with open(a.log, encoding="utf-8", errors="replace") as f:
            samples = parse(f)
    except (OSError, ValueError) as e:
        print(f"flat.py: {e}", file=sys.stderr)
        return 2
    if a.tsv:
        write_tsv(samples, a.tsv)
    ok, lines = judge(samples)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
