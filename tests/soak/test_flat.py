"""Host unit tests of the soak judge (tests/soak/flat.py), on synthetic sample logs."""

import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flat  # noqa: E402


def log_lines(series, step=60, objs=300):
    """soak-sample lines for (slab, sunreclaim, percpu) tuples, one every STEP seconds."""
    out = ["# 10:00:00 setup", "PASS soak/setup"]
    for i, (slab, sun, pcpu) in enumerate(series):
        out.append(f"soak-sample\tt={i * step}\tslab_kb={slab}\tsunreclaim_kb={sun}"
                   f"\tpercpu_kb={pcpu}\tl3dsr_entry_objs={objs}\tok=1200\terrors=0")
    return out


def hour(f, n=61):
    """n samples a minute apart, F(i) giving (slab, sunreclaim, percpu)."""
    return [f(i) for i in range(n)]


class TestJudge(unittest.TestCase):
    def verdict(self, series, step=60):
        return flat.judge(flat.parse(log_lines(series, step)))

    def test_flat(self):
        ok, lines = self.verdict(hour(lambda i: (90000, 40000, 2000)))
        self.assertTrue(ok, lines)
        self.assertEqual(lines[-1], "PASS memory flat")
        self.assertIn("slab+percpu: start 92000 kB, end 92000 kB, min 92000 kB, max 92000 kB, "
                      "slope 0.0 KiB/h", lines[1])

    def test_noisy_flat_with_warmup_growth(self):
        rnd = random.Random(19)
        # 8 MiB of caches filling in the first 5 minutes, then +-1.5 MiB of noise.
        def f(i):
            fill = min(i, 5) * 1600
            return (80000 + fill + rnd.randint(-1500, 1500), 38000 + fill // 2 + rnd.randint(-800, 800),
                    2000 + rnd.randint(-100, 100))
        ok, lines = self.verdict(hour(f))
        self.assertTrue(ok, lines)

    def test_leak_fails(self):
        # 100 KiB a minute (6 MiB an hour) in unreclaimable slab: small next to the noise of one
        # sample, but a steady slope.
        rnd = random.Random(7)
        def f(i):
            leak = i * 100
            return (90000 + leak + rnd.randint(-1000, 1000), 40000 + leak + rnd.randint(-500, 500), 2000)
        ok, lines = self.verdict(hour(f))
        self.assertFalse(ok, lines)
        self.assertEqual(lines[-1], "FAIL memory growing")
        self.assertRegex(lines[1], r"^slab\+percpu: .*slope 6\d\d\d\.\d KiB/h.*: GROWING$")
        self.assertRegex(lines[2], r"^sunreclaim: .*: GROWING$")

    def test_percpu_leak_fails(self):
        # Slab flat, percpu growing by 3 MiB over the hour: the sum catches it.
        ok, lines = self.verdict(hour(lambda i: (90000, 40000, 2000 + i * 52)))
        self.assertFalse(ok, lines)
        self.assertIn("GROWING", lines[1])
        self.assertIn("flat", lines[2])

    def test_threshold_is_relative_for_big_series(self):
        # 3 MiB growth on a 400 MiB slab: under 2% of the mean (8 MiB), flat.
        ok, lines = self.verdict(hour(lambda i: (400000 + i * 52, 40000, 2000)))
        self.assertTrue(ok, lines)

    def test_short_run_uses_same_rule(self):
        # SOAK_SECONDS=300: samples at 0..300 s, warm-up 50 s, 5 judged.
        ok, lines = self.verdict(hour(lambda i: (90000, 40000, 2000), n=6))
        self.assertTrue(ok, lines)
        self.assertIn("warm-up 50 s; 5 judged", lines[0])
        ok, lines = self.verdict(hour(lambda i: (90000 + i * 1500, 40000, 2000), n=6))
        self.assertFalse(ok, lines)

    def test_too_short(self):
        ok, lines = self.verdict(hour(lambda i: (90000, 40000, 2000), n=3))
        self.assertFalse(ok)
        self.assertEqual(lines[-1], "FAIL too short to judge: want 3 samples after the warm-up, have 2")
        ok, lines = flat.judge([])
        self.assertFalse(ok)
        self.assertEqual(lines, ["FAIL too short to judge: 0 sample(s)"])

    def test_bad_line(self):
        with self.assertRaisesRegex(ValueError, "line 2: bad soak-sample line"):
            flat.parse(["x", "soak-sample\tt=1\tslab_kb=oops"])


class TestMain(unittest.TestCase):
    def test_tsv_and_exit_status(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "soak.log")
            tsv = os.path.join(d, "memory.tsv")
            with open(log, "w", encoding="utf-8") as f:
                f.write("\n".join(log_lines(hour(lambda i: (90000, 40000, 2000 + i), n=4))) + "\n")
            self.assertEqual(flat.main([log, "--tsv", tsv]), 0)
            with open(tsv, encoding="utf-8") as f:
                rows = f.read().splitlines()
            self.assertEqual(rows[0], "# t\tslab_kb\tsunreclaim_kb\tpercpu_kb\tslab_percpu_kb"
                             "\tl3dsr_entry_objs\tok\terrors")
            self.assertEqual(rows[2], "60\t90000\t40000\t2001\t92001\t300\t1200\t0")
            self.assertEqual(len(rows), 5)
            with open(log, "a", encoding="utf-8") as f:
                f.write("soak-sample\tt=240\n")
            self.assertEqual(flat.main([log]), 2)


class TestRunJudgeOnly(unittest.TestCase):
    """tests/soak/run.sh --judge-only on synthetic logs: one line per kernel, the exit status."""

    def test_verdict_lines(self):
        run = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.sh")
        with tempfile.TemporaryDirectory() as d:
            logs = {"k-flat": hour(lambda i: (90000, 40000, 2000)),
                    "k-leak": hour(lambda i: (90000 + i * 100, 40000 + i * 100, 2000))}
            for k, series in logs.items():
                os.makedirs(os.path.join(d, "soak", k))
                with open(os.path.join(d, "soak", k, "soak.log"), "w", encoding="utf-8") as f:
                    f.write("\n".join(log_lines(series)) + "\n")
            args = [run, "--judge-only", "-k", "k-flat", "-k", "k-leak", "-k", "k-none"]
            p = subprocess.run(args, env=dict(os.environ, L3DSR_BUILD=d), capture_output=True,
                               text=True, check=False)
            results = [l for l in p.stdout.splitlines() if not l.startswith("#")]
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(results[0], "PASS k-flat soak/memory-flat")
            self.assertRegex(results[1], r"^FAIL k-leak soak/memory-flat: slab\+percpu: .*GROWING")
            self.assertEqual(results[2], f"FAIL k-none soak/memory-flat: no log ({d}/soak/k-none/soak.log)")
            self.assertTrue(os.path.getsize(os.path.join(d, "soak", "k-leak", "memory.tsv")) > 0)
            p = subprocess.run(args[:4], env=dict(os.environ, L3DSR_BUILD=d), capture_output=True,
                               text=True, check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
