# shellcheck shell=bash
# agent_scale: the agent's cost at 100 services × 4 reals, each real checked every second along
# the DSR path (http): the agent's CPU and RSS over 30 s, and the time of a /metrics scrape, with
# `ipvsadm -Ln --stats` (the stock tool reading the same counters) as the scrape's baseline in
# the same run. Numbers go to the log as BENCH lines (docs: BENCHMARKS.md, "The agent").
#
#   make bench-agent       (tests/vm/run.sh -s agent_scale with this directory)
set -u

NSVC=${L3DSR_AGENT_SVCS:-100} NRS=4 PORT0=8000 SECS=${L3DSR_AGENT_SECS:-30}
topo_init s- 4 $NRS
HERE=$(dirname "$0")/agent_scale.d
BIN=$L3DSR_BIN
W=$PWD
PIDS=()
on_exit 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; topo_down'
topo_up || { fail setup "the topology did not come up"; exit 0; }

last=$((PORT0 + NSVC - 1))
for i in $(seq $NRS); do
	n=${RS_NS[i - 1]}
	ns "$n" "$BIN" realserver up --vip 10.0.0.1 --dscp 21 >/dev/null 2>&1 || { fail setup "realserver up in $n"; exit 0; }
	ns "$n" python3 "$HERE/many.py" $PORT0 $last >/dev/null 2>&1 &
	PIDS+=($!)
done
{
	echo "agent: {metrics: '192.0.2.20:9641', repair_interval: 10s}"
	echo "director:"
	echo "  services:"
	for ((p = PORT0; p <= last; p++)); do
		echo "    - vip: 10.0.0.1:$p"
		echo "      dscp: 21"
		echo "      health: {kind: http, interval: 1s, timeout: 800ms}"
		echo "      reals:"
		for ip in "${RS_IP4[@]}"; do echo "        - {address: $ip, weight: 100}"; done
	done
} >"$W/scale.conf"
sleep 1
ns "$NS_DIR" "$BIN" agent -f "$W/scale.conf" --state "$W/state.json" >"$W/agent.log" 2>&1 &
apid=$!
PIDS+=($apid)
scrape() { ns "$NS_DIR" curl -s -m 10 http://192.0.2.20:9641/metrics; }
up_count() { scrape | grep -c '^l3dsr_health_up{.* 1$'; }
if ! wait_for 60 bash -c "kill -0 $apid && test \"\$(ip netns exec $NS_DIR curl -s -m 10 http://192.0.2.20:9641/metrics | grep -c '^l3dsr_health_up{.* 1\$')\" -ge $((NSVC * NRS))"; then
	fail setup "$(up_count) of $((NSVC * NRS)) reals up after 60s: $(tail -3 "$W/agent.log" | squash)"
	kill -QUIT "$apid"
	sleep 1
	grep -v "msg=applied" "$W/agent.log" | head -150
	exit 0
fi
pass setup
sleep 5
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$apid/stat"; }
c0=$(cpu) t0=$(date +%s.%N)
sleep "$SECS"
c1=$(cpu) t1=$(date +%s.%N)
pct=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / (t1 - t0)}')
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$apid/status")
downs=$(grep -c "real down" "$W/agent.log")
echo "BENCH agent svcs=$NSVC reals=$((NSVC * NRS)) interval=1s cpu_pct=$pct rss_kib=$rss downs=$downs"
# Scrapes against the stock tool's read of the same counters.
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
st=$(for _ in $(seq 21); do ns "$NS_DIR" curl -s -o /dev/null -m 10 -w '%{time_total}\n' http://192.0.2.20:9641/metrics; done | med)
bt=$(for _ in $(seq 21); do
	s=$(date +%s%N)
	ns "$NS_DIR" ipvsadm -Ln --stats >/dev/null
	echo "$(($(date +%s%N) - s))" | awk '{print $1 / 1e9}'
done | med)
size=$(scrape | wc -c) series=$(scrape | grep -vc '^#')
echo "BENCH agent-scrape svcs=$NSVC seconds=$st bytes=$size series=$series ipvsadm_seconds=$bt ratio=$(awk -v a="$st" -v b="$bt" 'BEGIN {printf "%.2f", a / b}')"
if [[ $pct != "" && $downs == 0 ]]; then pass measure; else fail measure "cpu '$pct', $downs reals went down (want none: every server answers)"; fi

# The baseline: keepalived checking the same 400 reals every second (HTTP_GET to each real's own
# address: keepalived has no DSR path), alone in the director's namespace.
kill "$apid"
wait "$apid" 2>/dev/null
ns "$NS_DIR" ipvsadm -C
if command -v keepalived >/dev/null; then
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
	} >"$W/keepalived.conf"
	ns "$NS_DIR" keepalived -n -l -C -f "$W/keepalived.conf" -p "$W/ka.pid" -c "$W/ka-check.pid" -r "$W/ka-vrrp.pid" >"$W/keepalived.log" 2>&1 &
	kpid=$!
	PIDS+=($kpid)
	wait_for 30 test -s "$W/ka-check.pid"
	sleep 10
	kpids() { echo "$kpid $(cat "$W/ka-check.pid" 2>/dev/null)"; }
	kcpu() { local s=0 p; for p in $(kpids); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
	k0=$(kcpu) t0=$(date +%s.%N)
	sleep "$SECS"
	k1=$(kcpu) t1=$(date +%s.%N)
	kpct=$(awk -v a="$k0" -v b="$k1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / (t1 - t0)}')
	krss=0
	for p in $(kpids); do krss=$((krss + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done
	nreal=$(ns "$NS_DIR" ipvsadm -Ln | grep -c -- '->.*Masq')
	echo "BENCH keepalived svcs=$NSVC reals=$nreal interval=1s cpu_pct=$kpct rss_kib=$krss"
	echo "BENCH agent-vs-keepalived cpu_ratio=$(awk -v a="$pct" -v b="$kpct" 'BEGIN {printf "%.2f", a / b}') rss_ratio=$(awk -v a="$rss" -v b="$krss" 'BEGIN {printf "%.2f", a / b}')"
	if ((nreal == NSVC * NRS)); then pass keepalived; else fail keepalived "keepalived has $nreal reals in IPVS, want $((NSVC * NRS)): $(tail -3 "$W/keepalived.log" | squash)"; fi
else
	fail keepalived "keepalived is not installed (make bench-agent installs it: scripts/deps.sh bench)"
fi
