"""abreport.py on a synthetic bench_ab log (make unit runs this: python3 -m unittest)."""

import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abreport  # noqa: E402

# Three rounds; A is an old build without the direct path, B the new one. Round 2 runs B first
# (ABBA), which the report must not care about: it pairs A and B by round.
LOG = """BENCH\tenv\tkernel\t6.1.0-test
BENCH\tenv\tab-A\tmain (43c63a24deba)
BENCH\tenv\tab-B\tworking tree (make kmod)
noise the scenario printed
BENCHAB\t1\tA\tmap-1\t4\t64\t80\t300000\t300000\t100
BENCHAB\t1\tA\tmap-direct-1\t4\t64\tn/a
BENCHAB\t1\tB\tmap-1\t4\t64\t90\t300000\t300000\t100
BENCHAB\t1\tB\tmap-direct-1\t4\t64\t190\t300000\t300000\t200
BENCHAB\t2\tB\tmap-1\t4\t64\t88\t300000\t300000\t110
BENCHAB\t2\tB\tmap-direct-1\t4\t64\t94\t300000\t300000\t100
BENCHAB\t2\tA\tmap-1\t4\t64\t70\t300000\t300000\t100
BENCHAB\t2\tA\tmap-direct-1\t4\t64\tn/a
BENCHAB\t3\tA\tmap-1\t4\t64\t160\t300000\t300000\t200
BENCHAB\t3\tA\tmap-direct-1\t4\t64\tn/a
BENCHAB\t3\tB\tmap-1\t4\t64\t85\t300000\t300000\t100
BENCHAB\t3\tB\tmap-direct-1\t4\t64\t96\t300000\t300000\t100
BENCHAB\t1\tA\tbase-none\t6\t64\t99\t300000\t300000\t100
"""


def run(text, *extra):
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write(text)
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            rc = abreport.main([f"6.1={f.name}", *extra])
    finally:
        os.unlink(f.name)
    return rc, out.getvalue(), err.getvalue()


class ABReport(unittest.TestCase):
    def test_table(self):
        rc, out, err = run(LOG)
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[0], "#### A/B, 6.1: A = main (43c63a24deba), B = working tree (make kmod)")
        # A over the median of A's baselines (100): 0.80 0.70 1.60; B over B's (100): 0.90
        # 0.88 0.85; B/A of the rates per round: 1.125 1.257 0.531.
        self.assertIn("| map mode, 1 entry | IPv4, 64 B | 0.80 (0.70–1.60) | 0.88 (0.85–0.90) | "
                      "1.12 (0.53–1.26) |", lines)
        # B alone has the direct path: A's cell says so, and there is no B/A.
        self.assertIn("| map, direct hook, 1 entry | IPv4, 64 B | n/a (not in this build) | "
                      "0.96 (0.94–1.90) | n/a |", lines)
        # One round of three: the count shows, and the configuration's order is RX_ORDER's.
        self.assertIn("| baseline (a) again, in a fresh namespace: the noise of a pair | IPv6, 64 B | "
                      "0.99 (0.99–0.99) [1] | n/a | n/a |", lines)
        rows = [ln.split(" | ")[0] for ln in lines if ln.startswith("| ") and "IPv" in ln]
        self.assertEqual(rows, ["| baseline (a) again, in a fresh namespace: the noise of a pair",
                                "| map mode, 1 entry", "| map, direct hook, 1 entry"])

    def test_bad_lines(self):
        rc, out, err = run(LOG + "BENCHAB\t4\tA\tmap-1\t4\t64\tfast\t1\t1\t100\n")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("pps 'fast' is not a number", err)
        rc, _, err = run(LOG + "BENCHAB\t4\tC\tmap-1\t4\t64\t1\t1\t1\t100\n")
        self.assertEqual(rc, 1)
        self.assertIn("unparseable data line: BENCHAB\t4\tC", err)
        rc, _, err = run("BENCH\tenv\tkernel\tx\n")
        self.assertEqual(rc, 1)
        self.assertIn("no BENCHAB figures", err)
        rc, _, err = run(LOG.replace("\t300000\t300000\t200\n", "\t300000\t300000\t0\n", 1))
        self.assertEqual(rc, 1)
        self.assertIn("baseline rate 0 is not > 0", err)


if __name__ == "__main__":
    unittest.main()
