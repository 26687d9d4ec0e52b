"""scenarios/bench_ab.sh's control flow on the host (make unit runs this: python3 -m unittest):
rx.sh, the module commands and the test framework stubbed, the module's sysfs directory a
temporary one (AB_MOD). Checks the ABBA order, the BENCHAB lines, n/a for a build without the
direct path, and the cases' verdicts."""

import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# The stub module: the .ko's directory says which build it is; the stubs record what ran.
STUBS = r"""
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
log() { :; }
modprobe() { :; }
rmmod() { rm -rf "$AB_MOD"; }
modinfo() { case $3 in */A/*) echo SRC-A ;; */B/*) echo SRC-B ;; esac; }
insmod() {
	mkdir -p "$AB_MOD"
	case $1 in */A/*) echo SRC-A ;; */B/*) echo "${INSMOD_B_AS:-SRC-B}" ;; esac >"$AB_MOD/srcversion"
	# fd 3 is the scenario's stdout: ab_load captures insmod's own output.
	echo "TRACE insmod $(cat "$AB_MOD/srcversion")" >&3
}
"""
RX = r"""
RX_NS=n RX_PEER=p RX_BASE=b RX_BASE_PEER=bp
declare -A RX_ERR RX_SEEN RX_BASEOUT
rx_ns_up() { :; }
rx_ns_down() { :; }
rx_hold_stop() { :; }
rx_baseline() { RX_BASEOUT[$2-$3]="100 $4 $4"; }
rx_config() {
	if [[ $1 == map-direct-* && $(cat "$AB_MOD/srcversion") == SRC-A ]]; then
		echo "l3dsr: the loaded xt_DADDR module has no direct path (genl version 2): load this release's module" >&2
		return 1
	fi
	[[ $1 != broken ]] || { echo "boom" >&2; return 1; }
}
rx_measure() {
	local v=80
	[[ $(cat "$AB_MOD/srcversion") == SRC-B ]] && v=90
	printf 'BENCH\trx\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$v" "$5" "$5" 100
	RX_SEEN[$2-ipv$3-$4]=1
}
"""


def run(configs, **env):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "src")
        lib = os.path.join(src, "tests/bench/lib")
        os.makedirs(lib)
        os.makedirs(os.path.join(t, "build/bench/ab"))
        with open(os.path.join(HERE, "lib/env.sh")) as f, open(os.path.join(lib, "env.sh"), "w") as g:
            g.write(f.read())
        with open(os.path.join(lib, "rx.sh"), "w") as f:
            f.write(RX)
        for b in "AB":
            os.makedirs(os.path.join(t, b, "k"))
            open(os.path.join(t, b, "k/xt_DADDR.ko"), "w").close()
        with open(os.path.join(t, "build/bench/ab/ab.env"), "w") as f:
            f.write(f"AB_A_DIR={t}/A\nAB_B_DIR={t}/B\nAB_A_NAME=old\nAB_B_NAME=new\n"
                    f"AB_CONFIGS='{configs}'\nAB_ROUNDS=3\nAB_COUNT=3000\n")
        with open(os.path.join(t, "stubs.sh"), "w") as f:
            f.write(STUBS)
        e = dict(os.environ, L3DSR_SRC=src, L3DSR_BUILD=os.path.join(t, "build"), KREL="k",
                 AB_MOD=os.path.join(t, "sys/xt_DADDR"), **env)
        p = subprocess.run(["bash", "-c", f'exec 3>&1; source {t}/stubs.sh; source "$0"',
                            os.path.join(HERE, "scenarios/bench_ab.sh")],
                           cwd=t, env=e, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout.splitlines()


class BenchAB(unittest.TestCase):
    def test_abba_and_na(self):
        rc, lines = run("map-1 map-direct-1 broken")
        self.assertEqual(rc, 0)
        self.assertEqual([ln for ln in lines if ln.startswith("TRACE")],
                         ["TRACE insmod " + s for s in
                          ("SRC-A", "SRC-B", "SRC-B", "SRC-A", "SRC-A", "SRC-B")])
        ab = [ln.split("\t") for ln in lines if ln.startswith("BENCHAB\t")]
        self.assertIn(["BENCHAB", "2", "B", "map-1", "6", "64", "90", "3000", "3000", "100"], ab)
        self.assertIn(["BENCHAB", "3", "A", "map-1", "4", "64", "80", "3000", "3000", "100"], ab)
        self.assertIn(["BENCHAB", "1", "A", "map-direct-1", "4", "64", "n/a"], ab)
        self.assertIn(["BENCHAB", "1", "B", "map-direct-1", "4", "64", "90", "3000", "3000", "100"], ab)
        # 3 rounds x 2 builds x 2 families of map-1 and of map-direct-1; nothing of broken.
        self.assertEqual(len(ab), 24)
        self.assertIn("BENCH\tenv\tab-A\told", lines)
        self.assertIn("PASS ab/load-A", lines)
        self.assertIn("PASS ab/map-direct-1-ipv4-64-A", lines)
        self.assertIn("FAIL ab/broken-ipv6-64-B: round 1: configuration failed: boom; round 2: "
                      "configuration failed: boom; round 3: configuration failed: boom", lines)

    def test_wrong_module_loaded(self):
        rc, lines = run("map-1", INSMOD_B_AS="SRC-OTHER")
        self.assertEqual(rc, 0)
        fails = [ln for ln in lines if ln.startswith("FAIL")]
        self.assertIn("loaded srcversion 'SRC-OTHER'", fails[0])
        self.assertTrue(fails[0].startswith("FAIL ab/load-B: round 1: "), fails[0])
        self.assertIn("FAIL ab/map-1-ipv4-64-B: no measurement", fails)
        self.assertFalse([ln for ln in lines if ln.startswith("BENCHAB\t") and ln.split("\t")[2] == "B"])


if __name__ == "__main__":
    unittest.main()
