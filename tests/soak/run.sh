#!/usr/bin/env bash
# Host side of the soak test (issue 19, `make soak`): runs tests/soak/scenarios/soak.sh in the VM
# bench on each kernel, then for each: build/soak/KREL/soak.log (the scenario's log),
# memory.tsv (its samples), memory.png (gnuplot) and flat.py's verdict on the memory.
#
# Usage: tests/soak/run.sh [-k KREL]... [--judge-only]
#   -k KREL        kernel (repeatable; default: all of scripts/kernels.sh)
#   --judge-only   no VM: judge and plot the logs already in build/soak/KREL/soak.log
# Environment: SOAK_SECONDS (3600), SOAK_RELOAD_EVERY (minutes, 10), SOAK_SAMPLE_EVERY (60),
# SOAK_TABLE (256), SOAK_NETNS_GAP (2): written to build/soak/soak.env, which the guest reads.
# Prints "PASS KREL soak/memory-flat" or "FAIL KREL soak/memory-flat: ..." per kernel.
# Exit status: 0 when every VM case passed and every kernel's memory ended flat.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${L3DSR_BUILD:-$top/build}
out=$build/soak

kernels=() judge_only=0
while (($#)); do
	case $1 in
	-k) [[ $# -ge 2 ]] || { echo "run.sh: -k needs a kernel release" >&2; exit 2; }; kernels+=("$2"); shift 2 ;;
	--judge-only) judge_only=1; shift ;;
	-h | --help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2 ;;
	*) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
((${#kernels[@]})) || mapfile -t kernels < <("$top/scripts/kernels.sh")

secs=${SOAK_SECONDS:-3600}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 60)); then
	echo "run.sh: SOAK_SECONDS must be a number of seconds >= 60, got '$secs'" >&2
	exit 2
fi
mkdir -p "$out"

rc=0
if ((!judge_only)); then
	{
		echo "SOAK_SECONDS=$secs"
		for v in SOAK_RELOAD_EVERY SOAK_SAMPLE_EVERY SOAK_TABLE SOAK_NETNS_GAP; do
			[[ -z ${!v:-} ]] || printf '%s=%q\n' "$v" "${!v}"
		done
	} >"$out/soak.env"
	# A log left by an earlier run must not be judged as this one's.
	rm -rf "$out/logs"
	for k in "${kernels[@]}"; do rm -f "$out/$k/soak.log"; done
	args=()
	for k in "${kernels[@]}"; do args+=(-k "$k"); done
	# Setup and teardown under TCG take minutes; slab_nomerge gives the module's l3dsr_entry
	# cache a line of its own in /proc/slabinfo (merged, its objects hide in another cache's).
	L3DSR_SCENARIO_DIR=$here/scenarios L3DSR_VM_LOGS_OUT=$out/logs \
		L3DSR_VM_TIMEOUT_PER_SCENARIO=$((secs + 900)) \
		L3DSR_VM_APPEND="slab_nomerge${L3DSR_VM_APPEND:+ $L3DSR_VM_APPEND}" \
		"$top/tests/vm/run.sh" -s soak "${args[@]}" || rc=1
fi

for k in "${kernels[@]}"; do
	d=$out/$k
	mkdir -p "$d"
	[[ ! -f $out/logs/$k/soak.log ]] || cp "$out/logs/$k/soak.log" "$d/soak.log"
	if [[ ! -f $d/soak.log ]]; then
		echo "FAIL $k soak/memory-flat: no log ($d/soak.log)"
		rc=1
		continue
	fi
	echo "# $k: memory (tests/soak/flat.py $d/soak.log)"
	verdict=0
	python3 "$here/flat.py" "$d/soak.log" --tsv "$d/memory.tsv" | tee "$d/verdict.txt" | sed 's/^/#   /' ||
		verdict=$?
	if [[ -s $d/memory.tsv ]] && (($(grep -vc '^#' "$d/memory.tsv") > 0)); then
		gnuplot -e "out='$d/memory.png'; tsv='$d/memory.tsv'; krel='$k'" "$here/memory.gp" ||
			echo "# $k: gnuplot failed (scripts/deps.sh bench installs gnuplot-nox)"
		echo "# $k: plot $d/memory.png, samples $d/memory.tsv"
	fi
	if ((verdict == 0)); then
		echo "PASS $k soak/memory-flat"
	else
		echo "FAIL $k soak/memory-flat: $(grep -E '^FAIL|GROWING' "$d/verdict.txt" | tr '\n' ' ')"
		rc=1
	fi
done
exit "$rc"
