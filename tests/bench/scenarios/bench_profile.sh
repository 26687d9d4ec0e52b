# shellcheck shell=bash
# bench_profile: where the receive path spends its time, per configuration (BENCHMARKS.md,
# "Reading the results"). For each configuration, one pktgen run of IPv4 64-byte packets as
# in bench.sh, under `perf record -C 0 -e cpu-clock` (CPU 0 runs pktgen's thread and with it
# the whole receive path; TCG has no hardware counters, the software clock samples work), and
# the flat kernel profile of the run (symbols above 0.4%):
#   PROFILE CONFIG PERCENT SYMBOL
# Run it with
#   L3DSR_SCENARIO_DIR=tests/bench/scenarios tests/vm/run.sh -k KREL -s bench_profile
# and read build/vm/KREL/logs/bench_profile.log. Case prof/CONFIG: perf recorded samples and
# pktgen delivered every packet.
set -u
# shellcheck source=/dev/null
source "$L3DSR_SRC/tests/bench/lib/rx.sh"

modprobe pktgen
count=300000
tc=$(printf %02x $((RX_DSCP4 << 2)))
for cfg in base-none base-rawlegacy rev0-1 map-63 map-65536 map-direct-65536 nft-1 nft-map; do
	if ! err=$({ rx_ns_up "$RX_NS" "$RX_PEER" && rx_config "$cfg"; } 2>&1); then
		fail "prof/$cfg" "setup: $err"
		continue
	fi
	dst=$RX_RIP4
	[[ $cfg != base-* ]] || dst=$RX_VIP4
	out=$(perf record -q -C 0 -e cpu-clock -F 2000 -o "$PWD/$cfg.data" -- \
		ip netns exec "$RX_NS" bash "$RX_LIB/pg.sh" 4 64 "$dst" "$tc" "$count" "$RX_MAC" 2>&1)
	read -r pps sent deliv <<<"$(tail -n 1 <<<"$out")"
	echo "PROFILE $cfg pktgen: $pps pps, $sent sent, $deliv delivered"
	perf report -i "$PWD/$cfg.data" --stdio --no-children --sort sym --percent-limit 0.4 2>/dev/null |
		awk -v c="$cfg" '/^ +[0-9.]+%/ { printf "PROFILE\t%s\t%s\t%s\n", c, $1, $NF }' >"$PWD/$cfg.prof"
	cat "$PWD/$cfg.prof"
	if [[ -s $PWD/$cfg.prof && $deliv == "$sent" && $sent == "$count" ]]; then
		pass "prof/$cfg"
	else
		fail "prof/$cfg" "perf or pktgen produced nothing usable: $(tail -n 3 <<<"$out")"
	fi
done
rx_ns_down "$RX_NS" "$RX_PEER"
exit 0
