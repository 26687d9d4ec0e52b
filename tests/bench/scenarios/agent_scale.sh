# shellcheck shell=bash
# agent_scale: the agent's cost with N services × 4 reals, each real checked every second along
# the DSR path (http), for N = 25 and 100: the agent's CPU and RSS over 30 s and the time of a
# /metrics scrape, against keepalived checking the same reals (HTTP_GET to each real's address;
# keepalived has no DSR path) in the same run, and `ipvsadm -Ln --stats` (the stock tool reading
# the same counters) as the scrape's baseline. Numbers go to the log as BENCH lines
# (BENCHMARKS.md, "The agent"). The VM is emulated (qemu TCG, 2 vCPUs): absolute numbers are
# slow; the ratios are the result.
#
#   make bench-agent       (tests/vm/run.sh -s agent_scale with this directory)
set -u

NRS=4 PORT0=8000 MAXSVC=100 SECS=30
topo_init s- 4 $NRS
HERE=$(cd "$(dirname "$0")" && pwd)/agent_scale.d
BIN=$L3DSR_BIN
W=$PWD
PIDS=()
on_exit 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; topo_down'
topo_up || { fail setup "the topology did not come up"; exit 0; }

for i in $(seq $NRS); do
	n=${RS_NS[i - 1]}
	ns "$n" "$BIN" realserver up --vip 10.0.0.1 --dscp 21 >/dev/null 2>&1 || { fail setup "realserver up in $n"; exit 0; }
	ns "$n" python3 "$HERE/many.py" $PORT0 $((PORT0 + MAXSVC - 1)) >/dev/null 2>&1 &
	PIDS+=($!)
done
ticks=$(getconf CLK_TCK)
# cpu PID...: user + system ticks of the processes.
cpu() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
rss() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $s; }
# measure PID...: "CPU_PCT RSS_KIB" over SECS seconds.
measure() {
	local c0 c1 t0 t1
	c0=$(cpu "$@") t0=$(date +%s.%N)
	sleep "$SECS"
	c1=$(cpu "$@") t1=$(date +%s.%N)
	echo "$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / (t1 - t0)}') $(rss "$@")"
}
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

for nsvc in 25 $MAXSVC; do
	last=$((PORT0 + nsvc - 1)) nreal=$((nsvc * NRS))
	{
		echo "agent: {metrics: '192.0.2.20:9641', repair_interval: 10s}"
		echo "director:"
		echo "  services:"
		for ((p = PORT0; p <= last; p++)); do
			echo "    - vip: 10.0.0.1:$p"
			echo "      dscp: 21"
			echo "      health: {kind: http, interval: 1s, timeout: 1s}"
			echo "      reals:"
			for ip in "${RS_IP4[@]}"; do echo "        - {address: $ip, weight: 100}"; done
		done
	} >"$W/scale$nsvc.conf"
	# ip netns exec execs the agent: $! is the agent's own PID.
	ip netns exec "$NS_DIR" "$BIN" agent -f "$W/scale$nsvc.conf" --state "$W/state$nsvc.json" >"$W/agent$nsvc.log" 2>&1 &
	apid=$!
	PIDS+=($apid)
	upc() { ns "$NS_DIR" curl -s -m 20 http://192.0.2.20:9641/metrics | grep -c '^l3dsr_health_up{.* 1$'; }
	all_up() { (($(upc) >= nreal)); }
	wait_for 60 all_up
	up0=$(upc)
	sleep 5
	read -r pct kib < <(measure "$apid")
	up1=$(upc) downs=$(grep -c "real down" "$W/agent$nsvc.log")
	echo "BENCH agent svcs=$nsvc reals=$nreal interval=1s cpu_pct=$pct rss_kib=$kib up_before=$up0 up_after=$up1 downs=$downs"
	st=$(for _ in $(seq 11); do ns "$NS_DIR" curl -s -o /dev/null -m 20 -w '%{time_total}\n' http://192.0.2.20:9641/metrics; done | med)
	bt=$(for _ in $(seq 11); do
		s=$(date +%s%N)
		ns "$NS_DIR" ipvsadm -Ln --stats >/dev/null
		echo "$(($(date +%s%N) - s))" | awk '{print $1 / 1e9}'
	done | med)
	size=$(ns "$NS_DIR" curl -s -m 20 http://192.0.2.20:9641/metrics | wc -c)
	echo "BENCH agent-scrape svcs=$nsvc seconds=$st bytes=$size ipvsadm_seconds=$bt ratio=$(ratio "$st" "$bt")"
	kill "$apid"
	wait "$apid" 2>/dev/null
	ns "$NS_DIR" ipvsadm -C
	if [[ $pct != "" ]]; then pass "agent-$nsvc"; else fail "agent-$nsvc" "no measure"; fi

	# keepalived, alone in the director's namespace, checking the same reals.
	{
		echo "global_defs { router_id bench }"
		for ((p = PORT0; p <= last; p++)); do
			echo "virtual_server 10.0.0.1 $p {"
			echo "  delay_loop 1"
			echo "  lb_algo wlc"
			echo "  lb_kind NAT"
			echo "  protocol TCP"
			for ip in "${RS_IP4[@]}"; do
				echo "  real_server $ip $p { weight 100"
				echo "    HTTP_GET { url { path / status_code 200 } connect_timeout 1 retry 2 delay_before_retry 1 } }"
			done
			echo "}"
		done
	} >"$W/keepalived$nsvc.conf"
	if ! command -v keepalived >/dev/null; then
		fail "keepalived-$nsvc" "keepalived is not installed (make bench-agent installs it: scripts/deps.sh bench)"
		continue
	fi
	rm -f "$W"/ka*.pid
	ip netns exec "$NS_DIR" keepalived -n -l -C -f "$W/keepalived$nsvc.conf" -p "$W/ka.pid" -c "$W/ka-check.pid" -r "$W/ka-vrrp.pid" >"$W/keepalived$nsvc.log" 2>&1 &
	kpid=$!
	PIDS+=($kpid)
	wait_for 30 test -s "$W/ka-check.pid"
	sleep 10
	read -r kpct kkib < <(measure "$kpid" "$(cat "$W/ka-check.pid")")
	kreal=$(ns "$NS_DIR" ipvsadm -Ln | grep -c -- '->.*Masq')
	echo "BENCH keepalived svcs=$nsvc reals=$kreal interval=1s cpu_pct=$kpct rss_kib=$kkib"
	echo "BENCH agent-vs-keepalived svcs=$nsvc cpu_ratio=$(ratio "$pct" "$kpct") rss_ratio=$(ratio "$kib" "$kkib")"
	kill "$kpid"
	wait "$kpid" 2>/dev/null
	ns "$NS_DIR" ipvsadm -C
	if ((kreal > 0)); then pass "keepalived-$nsvc"; else fail "keepalived-$nsvc" "no real in IPVS: $(tail -3 "$W/keepalived$nsvc.log" | squash)"; fi
done
