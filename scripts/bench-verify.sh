#!/usr/bin/env bash
# bench-verify.sh [-n PACKETS] [-r RUNS] [--record]: how fast `l3dsr verify --pcap` reads a capture,
# against tcpdump with the equivalent filter, in the same run on the same file.
#
# Generates a PACKETS-packet pcap (default 1,000,000: DSR flows for DSCP 21, 22, 23, 46, IPv4 and
# IPv6, VLAN tags, truncated frames, noise), then times RUNS times each, in turn (best run counts):
#   l3dsr verify --pcap FILE --dscp 21,22,23,46 --map ... -o json
#   tcpdump -n -r FILE 'FILTER' | wc -l          (the operator's way; prints every match)
#   tcpdump -r FILE -w /dev/null 'FILTER'        (libpcap's filter alone, no printing)
#   tcpdump -r FILE -w /dev/null                 (a plain copy: the bar issue 14 sets)
# and prints packets/second (by wall-clock and by CPU time, user + system: on a busy machine the
# CPU time is the steadier figure) and the ratios. Both count the same packets (checked). --record writes
# the result to docs/BENCHMARKS-verify.md. Speed is measured here, never asserted in a test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=1000000 runs=3 record=0
while (($#)); do
	case $1 in
	-n) n=$2; shift 2 ;;
	-r) runs=$2; shift 2 ;;
	--record) record=1; shift ;;
	*) echo "usage: $0 [-n PACKETS] [-r RUNS] [--record]" >&2; exit 2 ;;
	esac
done
command -v tcpdump >/dev/null || { echo "bench-verify: tcpdump is missing (scripts/deps.sh vm installs it)" >&2; exit 1; }
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$top"
CGO_ENABLED=0 "$GO" build -trimpath -o "$work/l3dsr" ./cmd/l3dsr
"$GO" build -o "$work/gen" ./pcapcheck/pcapgen/gen
"$work/gen" -n "$n" -o "$work/bench.pcap"
size=$(du -h "$work/bench.pcap" | cut -f1)

e() { echo "((ip and (ip[1] & 0xfc) >> 2 == $1) or (ip6 and (ip6[0:2] & 0x0fc0) >> 6 == $1))"; }
one="($(e 21) or $(e 22) or $(e 23) or $(e 46))"
filter="$one or (vlan and $one) or (vlan and $one)"
maps=(--map "21=10.80.0.1" --map "22=10.80.0.2" --map "23=10.80.0.3" --map "46=10.80.0.4"
	--map "21=2001:db8:80::1" --map "22=2001:db8:80::2" --map "23=2001:db8:80::3" --map "46=2001:db8:80::4")
verify_cmd=("$work/l3dsr" verify --pcap "$work/bench.pcap" --dscp "21,22,23,46" "${maps[@]}" -o json)

now() { date +%s.%N; }
# The commands run in turn, round after round (not all runs of one, then all of the next), so
# that a change in the machine's load falls on all of them alike.
bw=() bc=()
timed() { # I CMD...: runs CMD once and keeps the best wall and CPU times (user + system) of command I
	local i=$1 tf=$work/time.out
	shift
	/usr/bin/time -f '%e %U %S' -o "$tf" "$@" >/dev/null 2>&1 || true
	read -r "bw[$i]" "bc[$i]" < <(awk -v b="${bw[$i]:-}" -v c="${bc[$i]:-}" '{ w = $1; u = $2 + $3; if (b == "" || w < b) b = w; if (c == "" || u < c) c = u; printf "%.3f %.3f\n", b, c }' <(tail -n 1 "$tf"))
}
run_tcpdump_print() { tcpdump -n -r "$work/bench.pcap" "$filter" 2>/dev/null | wc -l; }
run_tcpdump_null() { tcpdump -r "$work/bench.pcap" -w /dev/null "$filter"; }
run_tcpdump_copy() { tcpdump -r "$work/bench.pcap" -w /dev/null; }

# The same packets: verify's marked count = the packets tcpdump selects (into a file, counted by
# verify: tcpdump prints some packets, e.g. truncated ones, on two lines, so wc -l is a little
# off). verify exits 1 here: the mix holds replies from the RIP on purpose.
jnum() { awk -F': ' -v k="\"$1\"" '$1 ~ k { gsub(/[ ,]/, "", $2); print $2; exit }'; }
marked=$({ "${verify_cmd[@]}" 2>/dev/null || true; } | jnum marked)
tcpdump -r "$work/bench.pcap" -w "$work/sel.pcap" "$filter" 2>/dev/null
selected=$({ "$work/l3dsr" verify --pcap "$work/sel.pcap" --map 1=10.0.0.1 -o json 2>/dev/null || true; } | jnum read)
[[ $marked == "$selected" ]] || { echo "bench-verify: verify counted $marked marked packets, tcpdump selected $selected" >&2; exit 1; }
lines=$(run_tcpdump_print)

export work filter
for ((r = 0; r < runs; r++)); do
	timed 0 "${verify_cmd[@]}"
	# shellcheck disable=SC2016 # expanded by the inner shell
	timed 1 bash -c 'tcpdump -n -r "$work/bench.pcap" "$filter" 2>/dev/null | wc -l'
	timed 2 tcpdump -r "$work/bench.pcap" -w /dev/null "$filter"
	timed 3 tcpdump -r "$work/bench.pcap" -w /dev/null
done
tv=${bw[0]} cv=${bc[0]} tp=${bw[1]} cp=${bc[1]} tn=${bw[2]} cn=${bc[2]} tc=${bw[3]} cc=${bc[3]}
row() { # NAME WALL CPU: a table row with rates and ratios to verify's
	awk -v name="$1" -v n="$n" -v w="$2" -v c="$3" -v vw="$tv" -v vc="$cv" \
		'BEGIN { printf "| %s | %.3f | %.0f | %.2f× | %.3f | %.0f | %.2f× |\n", name, w, n / w, w / vw, c, n / c, c / vc }'
}

report=$(
	cat <<-EOF
		## $(date -u +%Y-%m-%d) — $n packets ($size), $marked marked ($lines lines from tcpdump); best of $runs runs, taken in turn

		Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r);
		$("$GO" version | cut -d' ' -f3), $(tcpdump --version 2>&1 | head -n 2 | tr '\n' ' ')

		| command | wall s | packets/s (wall) | its wall ÷ verify's | CPU s | packets/s (CPU) | its CPU ÷ verify's |
		|---|---|---|---|---|---|---|
		$(row "\`l3dsr verify --pcap\`" "$tv" "$cv")
		$(row "\`tcpdump -n -r FILE 'FILTER' \\| wc -l\`" "$tp" "$cp")
		$(row "\`tcpdump -r FILE -w /dev/null 'FILTER'\`" "$tn" "$cn")
		$(row "\`tcpdump -r FILE -w /dev/null\` (copy)" "$tc" "$cc")

		Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)

		Command: \`scripts/bench-verify.sh -n $n -r $runs --record\`
	EOF
)
printf '%s\n' "$report"
if ((record)); then
	doc=$top/docs/BENCHMARKS-verify.md
	if [[ ! -e $doc ]]; then
		mkdir -p "$top/docs"
		cat >"$doc" <<-'EOF'
			# `l3dsr verify` decoding speed

			`scripts/bench-verify.sh` generates a pcap (DSR flows for DSCP 21, 22, 23, 46 over IPv4 and
			IPv6, a quarter of the frames VLAN-tagged, one in ten truncated, plus ARP, fragments, IPv4
			options and other DSCP codes), then times, in the same run on the same file:

			- `l3dsr verify --pcap FILE --dscp 21,22,23,46 --map ... -o json`: reads the file, decodes every
			  frame, tracks flows and replies, prints the verdict;
			- `tcpdump -n -r FILE 'FILTER' | wc -l`: how an operator counts the marked packets today;
			- `tcpdump -r FILE -w /dev/null 'FILTER'`: libpcap's BPF filter alone, no printing;
			- `tcpdump -r FILE -w /dev/null`: a plain copy, the bar issue 14 sets;

			where FILTER is the equivalent expression, `(ip and (ip[1] & 0xfc) >> 2 == N) or (ip6 and
			(ip6[0:2] & 0x0fc0) >> 6 == N)` for each code, repeated behind one and two `vlan` tags. The
			script checks that verify's count of marked packets equals the number of packets tcpdump
			selects (written with -w and counted; tcpdump prints a few truncated packets on two lines, so its
			`wc -l` is slightly higher) before timing.
			The Go benchmarks (`go test -bench . ./pcapcheck/`) measure decoding alone
			(BenchmarkDecode), decoding plus the verdict (BenchmarkDecodeAndJudge) and the whole file
			path (BenchmarkRunFile). Nothing here is asserted in a test.

		EOF
	fi
	printf '%s\n\n' "$report" >>"$doc"
	echo "recorded in $doc"
fi
