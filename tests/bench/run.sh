#!/usr/bin/env bash
# Host side of the benchmark (issue 7). Runs tests/bench/scenarios/bench.sh in the VM bench
# (tests/vm/run.sh) on each kernel, keeps its data lines in build/bench/KREL.tsv, and makes
# from them the tables (build/bench/tables.md, also pasted into BENCHMARKS.md between its
# bench:tables markers) and the plots docs/bench-vips.png and docs/bench-cp.png (gnuplot).
#
# Usage: tests/bench/run.sh [--smoke | --ab REF | --ab-patch FILE] [--report-only] [-k KREL]...
#   --smoke        run bench_smoke.sh instead (seconds of work per kernel) into build/bench/smoke/
#                  and only check that it produced parseable figures > 0; touches no committed file
#   --ab REF       A/B of two module builds in one boot (scenarios/bench_ab.sh) into build/bench/ab/:
#                  A is xt_DADDR built from git REF (tests/bench/abbuild.sh), B the working tree's
#                  (make kmod); prints abreport.py's table (also build/bench/ab/ab.md), touches no
#                  committed file. AB_CONFIGS and AB_ROUNDS in the environment choose the
#                  configurations and rounds (bench_ab.sh has the defaults)
#   --ab-patch FILE  B is the working tree's module with FILE applied (patch -p1); with --ab REF,
#                  A is still REF, alone A is the working tree's module
#   --report-only  skip the VM runs; rebuild tables and plot from build/bench/KREL.tsv
#   -k KREL        kernel (repeatable; default: all of scripts/kernels.sh)
# Exit status: 0 when every VM case passed and the report (or the check) succeeded.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${L3DSR_BUILD:-$top/build}

smoke=0 report_only=0 kernels=() ab_ref='' ab_patch=''
while (($#)); do
	case $1 in
	--smoke) smoke=1; shift ;;
	--ab | --ab-patch)
		[[ $# -ge 2 && -n $2 ]] || { echo "run.sh: $1 needs a value (see --help)" >&2; exit 2; }
		if [[ $1 == --ab ]]; then ab_ref=$2; else ab_patch=$(realpath -e "$2") ||
			{ echo "run.sh: --ab-patch: no file '$2'" >&2; exit 2; }; fi
		shift 2
		;;
	--report-only) report_only=1; shift ;;
	-k) [[ $# -ge 2 ]] || { echo "run.sh: -k needs a kernel release" >&2; exit 2; }; kernels+=("$2"); shift 2 ;;
	-h | --help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2 ;;
	*) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
((${#kernels[@]})) || mapfile -t kernels < <("$top/scripts/kernels.sh")

ab=0
[[ -z $ab_ref$ab_patch ]] || ab=1
((!(smoke && ab))) || { echo "run.sh: --smoke and --ab/--ab-patch do not go together" >&2; exit 2; }
if ((smoke)); then
	scen=bench_smoke out=$build/bench/smoke
elif ((ab)); then
	scen=bench_ab out=$build/bench/ab
else
	scen=bench out=$build/bench
fi
mkdir -p "$out"

rc=0
if ((ab && !report_only)); then
	"$here/abprepare.sh" "$ab_ref" "$ab_patch" "$out/ab.env" "${kernels[@]}" || exit $?
fi
if ((!report_only)); then
	rm -rf "$out/logs"
	args=()
	for k in "${kernels[@]}"; do args+=(-k "$k"); done
	# The full bench takes about half an hour per kernel under TCG on a busy host.
	L3DSR_SCENARIO_DIR=$here/scenarios L3DSR_VM_LOGS_OUT=$out/logs \
		L3DSR_VM_TIMEOUT_PER_SCENARIO=${L3DSR_VM_TIMEOUT_PER_SCENARIO:-$((smoke ? 600 : ab ? 3600 : 5400))} \
		"$top/tests/vm/run.sh" "${args[@]}" -s "$scen" || rc=$?
	for k in "${kernels[@]}"; do
		if [[ -f $out/logs/$k/$scen.log ]]; then
			grep -aE $'^BENCH(AB)?\t' "$out/logs/$k/$scen.log" >"$out/$k.tsv" || true
		else
			echo "run.sh: no log of $scen from $k" >&2
			rc=1
		fi
	done
fi

# --report-only after a bench that tests/vm/run.sh ran by itself (with L3DSR_VM_LOGS_OUT set to
# build/bench/logs): take its data lines.
if ((report_only)); then
	for k in "${kernels[@]}"; do
		[[ ! -f $out/logs/$k/$scen.log ]] || grep -aE $'^BENCH(AB)?\t' "$out/logs/$k/$scen.log" >"$out/$k.tsv" || true
	done
fi

specs=()
for k in "${kernels[@]}"; do
	[[ -s $out/$k.tsv ]] || { echo "run.sh: $out/$k.tsv has no data" >&2; exit 1; }
	specs+=("$k=$out/$k.tsv")
done

if ((smoke)); then
	python3 "$here/report.py" --check "${specs[@]}"
	exit "$rc"
fi
if ((ab)); then
	python3 "$here/abreport.py" "${specs[@]}" | tee "$out/ab.md"
	exit "$rc"
fi

host="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) (see the text for what else ran)"
mkdir -p "$out/plot"
python3 "$here/report.py" --host "$host" --plot-dir "$out/plot" "${specs[@]}" >"$out/tables.md"

gnuplot -e "out='$top/docs/bench-vips.png'; dir='$out/plot'; k1='${kernels[0]}'; k2='${kernels[1]:-}'" \
	"$here/vips.gp"
gnuplot -e "out='$top/docs/bench-cp.png'; dir='$out/plot'; k1='${kernels[0]}'; k2='${kernels[1]:-}'" \
	"$here/cp.gp"

# BENCHMARKS.md: the text is written by hand, the tables between the markers come from here.
md=$top/BENCHMARKS.md
if grep -q '^<!-- bench:tables:begin -->$' "$md" && grep -q '^<!-- bench:tables:end -->$' "$md"; then
	awk -v tables="$out/tables.md" '
		/^<!-- bench:tables:end -->$/ { while ((getline l < tables) > 0) print l; skip = 0 }
		!skip { print }
		/^<!-- bench:tables:begin -->$/ { skip = 1 }' "$md" >"$md.new"
	mv "$md.new" "$md"
	echo "run.sh: tables written to $md (and $out/tables.md), plots to docs/bench-vips.png and docs/bench-cp.png"
else
	echo "run.sh: $md lacks the bench:tables markers; tables are in $out/tables.md" >&2
	rc=1
fi
exit "$rc"
