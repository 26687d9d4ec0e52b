"""report.py's direct-path rows, goals and plot series on synthetic data (make unit)."""

import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def rx(rnd, cfg, pps, base=100, fam="4"):
    return f"BENCH\trx\t{rnd}\t{cfg}\t{fam}\t64\t{pps}\t300000\t300000\t{base}\n"


# Two rounds. base-none spreads 0.02; the direct path at 65,536 entries is 0.91 and 0.89
# (median 0.90), at 1 entry 0.93; rev0-1 at 0.80; ordinary traffic through it 0.96.
LOG = ("BENCH\tenv\tkernel\t6.1-test\n" + rx(1, "base-none", 100) + rx(2, "base-none", 98)
       + rx(1, "rev0-1", 80) + rx(2, "rev0-1", 80)
       + rx(1, "map-direct-1", 93) + rx(2, "map-direct-1", 93)
       + rx(1, "map-direct-65536", 91) + rx(2, "map-direct-65536", 178, base=200)
       + rx(1, "pass-map-direct-65536", 96) + rx(2, "pass-map-direct-65536", 96))


class Report(unittest.TestCase):
    def setUp(self):
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
            f.write(LOG)
        self.addCleanup(os.unlink, f.name)
        self.d = report.load(f.name)

    def test_rows(self):
        out = []
        report.rx_table("k", self.d, out)
        self.assertIn("| map, direct hook, 65,536 entries | 0.90 (0.89–0.91) [2] | n/a | n/a | n/a |", out)
        out = []
        report.pass_table("k", self.d, out)
        self.assertIn("| map, direct hook, 65,536 entries per family (none for DSCP 0) | "
                      "0.96 (0.96–0.96) [2] | n/a |", out)

    def test_goals(self):
        rows = report.direct_goal_rows(self.d, "4")
        self.assertEqual([ok for ok, _ in rows], [True, False, True, False])
        self.assertEqual(rows[0][1], "≥ 0.90× no rule at 65,536 entries: 0.900×")
        self.assertEqual(rows[1][1], "flat: 65,536 entries within 3% of 1 entry: 0.900× / 0.930× = 0.968")
        self.assertIn("(map-direct-65536) 0.900× − rev0-1 0.800× = +0.100, spread of base-none 0.020",
                      rows[2][1])
        self.assertEqual(rows[3][1], "ordinary traffic through 65,536 entries ≥ 0.97× no rule: 0.960×")
        # Nothing measured for IPv6: no rows, and goals_direct writes nothing for it.
        self.assertEqual(report.direct_goal_rows(self.d, "6"), [])

    def test_plot(self):
        with tempfile.TemporaryDirectory() as t:
            with redirect_stdout(io.StringIO()):
                report.plot_data("k", self.d, t)
            with open(f"{t}/vips-k-ipv4.dat") as f:
                blocks = f.read().split("\n\n\n")
        # The fifth block (gnuplot's index 4, vips.gp's "map, direct hook") is the direct path.
        self.assertEqual(blocks[4].splitlines(), ["# mapdirect: vips median min max", "1 NaN NaN NaN",
                                                  "1 0.9300 0.9300 0.9300", "65536 0.9000 0.8900 0.9100"])


if __name__ == "__main__":
    unittest.main()
