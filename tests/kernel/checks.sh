#!/usr/bin/env bash
# Shows that the debug bench can fail: a module with a deliberate leak, then one with a
# use-after-free (tests/kernel/bugmod, built here against the debug kernel and never packaged),
# each booted in the VM bench, must each produce a FAIL that carries the kernel's report.
# Prints PASS/FAIL lines like run.sh; exits 0 only when both checks failed as they must.
#
# Usage: tests/kernel/checks.sh KREL   (the debug kernel, from tests/kernel/build.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
krel=${1:?usage: checks.sh KREL}
build=${L3DSR_BUILD:-$top/build}
out=$build/kmod/$krel/bugmod
work=$build/debug/checks
npass=0 nfail=0

mkdir -p "$out" "$work"
cp "$here/bugmod/Kbuild" "$here/bugmod/l3dsr_bugmod.c" "$out/"
if ! make -s -C "/lib/modules/$krel/build" M="$out" W=1 modules >"$out/build.log" 2>&1 ||
	grep -E 'warning:|error:' "$out/build.log"; then
	cat "$out/build.log"
	echo "checks.sh: building the bug module failed"
	exit 1
fi

check() { # NAME SCENARIO PATTERN... : every PATTERN (grep -E) must be in run.sh's output
	local name=$1 scen=$2 log=$work/$2.out p missing=()
	shift 2
	echo "# check $name: booting $krel with $scen"
	L3DSR_SCENARIO_DIR=$here/checks L3DSR_VM_TIMEOUT_PER_SCENARIO=${L3DSR_VM_TIMEOUT_PER_SCENARIO:-600} \
		"$top/tests/vm/run.sh" -k "$krel" -s "$scen" >"$log" 2>&1 || true
	for p in "$@"; do
		grep -Eq -- "$p" "$log" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		echo "PASS checks/$name"
		grep -E -m 3 -- "$1" "$log" | cut -c1-300 | sed 's/^/  /'
		npass=$((npass + 1))
	else
		echo "FAIL checks/$name: the bench did not report the deliberate bug (missing: ${missing[*]}); its output: $log"
		tail -n 40 "$log" | sed 's/^/| /'
		nfail=$((nfail + 1))
	fi
}

# 0x13d5, the objects' magic, little-endian in kmemleak's hex dump: the leak is the module's.
check leak-fails bug_leak "^FAIL $krel bug_leak/kmemleak: 8 unreferenced object" "d5 13 00 00"
check uaf-fails bug_uaf "^FAIL $krel kernel/console: .*BUG: KASAN: .*use-after-free" \
	"Read of size 4 at addr" "l3dsr_bug_init"
echo "$npass passed, $nfail failed"
((nfail == 0))
