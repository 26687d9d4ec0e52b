# shellcheck shell=bash
# soak (issue 19, `make soak`, tests/soak/run.sh): SOAK_SECONDS (3600) of TCP and UDP through an
# IPVS director and a map-mode real server, while
#   - the real server's table is replaced every second (l3dsr-nltest bulk: BEGIN, entries,
#     COMMIT), alternating between SOAK_TABLE (256) and 3/4 of that many entries, both sets
#     holding the traffic's entry (DSCP 21 -> VIP 10.80.0.1);
#   - namespaces are created and destroyed in a loop, each with the map rule and 16 entries
#     (per-namespace state allocated and freed), SOAK_NETNS_GAP (2) seconds apart;
#   - every SOAK_RELOAD_EVERY (10) minutes the module is unloaded and loaded again: traffic,
#     replaces and the namespace loop pause, the map rule goes, rmmod xt_DADDR, modprobe
#     xt_DADDR, `l3dsr rule add` restores the rule and entry, everything resumes (a run shorter
#     than one interval reloads once, half-way);
#   - every SOAK_SAMPLE_EVERY (60) seconds, after `echo 3 > /proc/sys/vm/drop_caches` (so that
#     the page cache's own slab objects do not blur the figures), one line
#       soak-sample<TAB>t=S<TAB>slab_kb=..<TAB>sunreclaim_kb=..<TAB>percpu_kb=..
#       <TAB>l3dsr_entry_objs=..<TAB>ok=..<TAB>errors=..
#     from /proc/meminfo (Slab, SUnreclaim, Percpu) and /proc/slabinfo (the module's cache,
#     l3dsr_entry, active objects; 0 while unloaded; run.sh boots with slab_nomerge so that the
#     cache has its own line), ok and errors being the exchanges of the minute.
# tests/soak/flat.py judges the samples on the host. The guest gets no environment from the
# host: run.sh writes the variables to $L3DSR_BUILD/soak/soak.env, read here.
#
# Cases: setup, traffic (>= 99% of exchanges answered, errors in the 3 s after a reload apart),
# replaces (all succeeded, the last set in the table), netns-cycles (all succeeded),
# reloads (as many as planned, each unload, load and restore succeeded, traffic flowed after the
# last), samples (one per interval).
#
#   client ── router ─┬─ director  VIP on lo, IPVS NAT + DSCP 21 in mangle
#                     └─ real server (RIP): VIP on lo, -j DADDR --map, traffic.py server
#   (tests/lib/topo.sh, IPv4, one real server; replies go straight back to the client)

set -u

# shellcheck source=/dev/null
[[ ! -f $L3DSR_BUILD/soak/soak.env ]] || source "$L3DSR_BUILD/soak/soak.env"
DUR=${SOAK_SECONDS:-3600}
RELOAD_EVERY=${SOAK_RELOAD_EVERY:-10}
SAMPLE_EVERY=${SOAK_SAMPLE_EVERY:-60}
TABLE=${SOAK_TABLE:-256}
NETNS_GAP=${SOAK_NETNS_GAP:-2}

NLT=$L3DSR_BUILD/map_kernel/l3dsr-nltest
TRAFFIC=$L3DSR_SRC/tests/soak/scenarios/soak.d/traffic.py
VIP=10.80.0.1
DSCP=21
WORK=$PWD
TOKEN=soak-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 12)
PAUSE=$WORK/pause STOP=$WORK/stop
topo_init sk- 4 1
BG_PIDS=()
SETUP_ERR=
# field, nltn
# shellcheck source=tests/scenarios/map_kernel.d/lib.sh
source "$L3DSR_SRC/tests/scenarios/map_kernel.d/lib.sh"

# nap S: sleep without starting a process (each costs a second under TCG).
exec {napfd}<> <(:)
nap() { read -r -t "$1" -u "$napfd" || true; }

# paused NAME: in a worker loop, wait out a pause (acknowledged with PAUSE.NAME); 0 if it paused.
paused() {
	[[ -e $PAUSE ]] || return 1
	: >"$PAUSE.$1"
	while [[ -e $PAUSE && ! -e $STOP ]]; do nap 0.2; done
	rm -f "$PAUSE.$1"
}

rs() { nsx "$NS_RS" "$@"; }
rule_up() { rs env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule add --dscp "$DSCP" --vip "$VIP"; }

setup() {
	local out
	[[ -x $NLT ]] || { SETUP_ERR="$NLT missing (make testtools)"; return 1; }
	out=$(topo_up 2>&1) || { SETUP_ERR="topology: $(squash <<<"$out")"; return 1; }
	step ip -n "$NS_DIR" addr add "$VIP/32" dev lo
	step ip -n "$NS_RS" addr add "$VIP/32" dev lo
	step nsx "$NS_DIR" sysctl -q -w net.ipv4.ip_forward=1
	step nsx "$NS_DIR" ipvsadm -R <<<"-A -t $VIP:80 -s rr
-a -t $VIP:80 -r $RIP4:80 -m
-A -u $VIP:7 -s rr
-a -u $VIP:7 -r $RIP4:7 -m"
	# conntrack=0: DSR leaves the director one direction only (classic_dsr.sh has the story).
	step nsx "$NS_DIR" sysctl -q -w net.ipv4.vs.conntrack=0
	step nsx "$NS_DIR" iptables-nft -t mangle -A PREROUTING -d "$VIP" -j DSCP --set-dscp "$DSCP"
	step modprobe xt_DADDR
	step rule_up
	[[ -z $SETUP_ERR ]] || return 1
	(cd "$WORK" && exec ip netns exec "$NS_RS" python3 "$TRAFFIC" server "$VIP" "$TOKEN") \
		>"$WORK/server.log" 2>&1 &
	BG_PIDS+=($!)
	wait_for 60 grep -q listening "$WORK/server.log" ||
		{ SETUP_ERR="traffic.py server did not start: $(squash <"$WORK/server.log")"; return 1; }
	(cd "$WORK" && exec ip netns exec "$NS_CLI" python3 "$TRAFFIC" client "$VIP" "$TOKEN" \
		"$WORK/traffic.state" "$PAUSE" "$STOP") >"$WORK/client.log" 2>&1 &
	BG_PIDS+=($!)
	wait_for 120 traffic_flows ||
		{ SETUP_ERR="no TCP and UDP answer within 120 s: $(cat "$WORK/traffic.state" "$WORK/client.log" "$WORK/server.log" 2>&1 | squash)"; return 1; }
}

# traffic counters from the client's state file into T[...]
declare -A T=()
traffic_read() {
	local line w
	read -r line <"$WORK/traffic.state" 2>/dev/null || return 1
	T[last_error]=${line#*last_error=}
	for w in ${line%% last_error=*}; do T[${w%%=*}]=${w#*=}; done
}
traffic_flows() { traffic_read && ((${T[tcp_ok]:-0} > 0 && ${T[udp_ok]:-0} > 0)); }

# Every second: one whole-table replace, the two sets alternating.
replacer() {
	local i=0 ok=0 bad=0 err=none n t0 us frac
	while [[ ! -e $STOP ]]; do
		paused replace && continue
		t0=${EPOCHREALTIME/./}
		n=$TABLE
		((i % 2 == 0)) || n=$((TABLE * 3 / 4))
		if out=$(nltn "$NS_RS" bulk "$n" seed=$((i % 2 + 1)) per=128 keep="$DSCP/$VIP" 2>&1); then
			ok=$((ok + 1))
		else
			bad=$((bad + 1)) err="replace $i ($n entries): $(squash <<<"$out")"
		fi
		echo "$ok $bad $n $err" >"$WORK/replace.state"
		i=$((i + 1))
		# The rest of the second, if the replace left any (microseconds).
		us=$((1000000 - (${EPOCHREALTIME/./} - t0)))
		printf -v frac '%06d' $((us % 1000000))
		((us <= 0)) || nap "$((us / 1000000)).$frac"
	done
}

# Namespaces with the map rule and entries, created and destroyed.
netns_cycler() {
	local i=0 ok=0 bad=0 err=none n out
	while [[ ! -e $STOP ]]; do
		paused netns && continue
		n=sk-cyc$((i % 4))
		if out=$({ ip netns add "$n" &&
			nsenter --net="/run/netns/$n" iptables-nft -t raw -A PREROUTING -j DADDR --map &&
			nltn "$n" bulk 16 seed="$i" keep="$DSCP/$VIP" >/dev/null && nltn "$n" stats; } 2>&1) && [[ $(field entries "$out") == 17 ]]; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1)) err="cycle $i: $(squash <<<"$out")"
		fi
		ip netns del "$n" 2>/dev/null
		echo "$ok $bad $err" >"$WORK/netns.state"
		i=$((i + 1))
		nap "$NETNS_GAP"
	done
}

NRELOAD=0 RELOAD_ERR='' RELOAD_OK_AT=0
reload() {
	local t0=$SECONDS a out
	: >"$PAUSE"
	for a in ack replace netns; do
		wait_for 120 test -e "$PAUSE.$a" || { RELOAD_ERR+="reload $((NRELOAD + 1)): $a did not pause within 120 s; "; }
	done
	# The map rule (rule add puts one per family with entries: IPv4 here; IPv6 flushed in case).
	out=$({ rs iptables-nft -t raw -F PREROUTING && rs ip6tables-nft -t raw -F PREROUTING; } 2>&1) ||
		RELOAD_ERR+="flushing the map rule: $out; "
	# A deleted namespace's rules go with it asynchronously: rmmod is retried meanwhile.
	if ! wait_for 60 rmmod xt_DADDR; then
		RELOAD_ERR+="reload $((NRELOAD + 1)): rmmod xt_DADDR failed for 60 s: $(rmmod xt_DADDR 2>&1) (refcnt $(cat /sys/module/xt_DADDR/refcnt 2>/dev/null)); "
	elif out=$(grep -c '^l3dsr_entry ' /proc/slabinfo) && [[ $out != 0 ]]; then
		RELOAD_ERR+="reload $((NRELOAD + 1)): l3dsr_entry still in /proc/slabinfo after rmmod; "
	fi
	out=$({ modprobe xt_DADDR && rule_up; } 2>&1) || RELOAD_ERR+="reload $((NRELOAD + 1)): modprobe/rule add: $(squash <<<"$out"); "
	rm -f "$PAUSE"
	NRELOAD=$((NRELOAD + 1))
	traffic_read
	RELOAD_OK_AT=$((${T[tcp_ok]:-0} + ${T[udp_ok]:-0}))
	log "reload $NRELOAD took $((SECONDS - t0)) s"
}

NSAMPLE=0 PREV_OK=0 PREV_ERR=0
sample() {
	local k v _ slab=0 sun=0 pcpu=0 objs=0 name active ok err
	echo 3 >/proc/sys/vm/drop_caches
	while read -r k v _; do
		case $k in Slab:) slab=$v ;; SUnreclaim:) sun=$v ;; Percpu:) pcpu=$v ;; esac
	done </proc/meminfo
	while read -r name active _; do
		[[ $name != l3dsr_entry ]] || objs=$active
	done </proc/slabinfo
	traffic_read
	ok=$((${T[tcp_ok]:-0} + ${T[udp_ok]:-0}))
	err=$((${T[tcp_err]:-0} + ${T[udp_err]:-0}))
	printf 'soak-sample\tt=%d\tslab_kb=%d\tsunreclaim_kb=%d\tpercpu_kb=%d\tl3dsr_entry_objs=%d\tok=%d\terrors=%d\n' \
		"$1" "$slab" "$sun" "$pcpu" "$objs" "$((ok - PREV_OK))" "$((err - PREV_ERR))"
	PREV_OK=$ok PREV_ERR=$err NSAMPLE=$((NSAMPLE + 1))
}

# shellcheck disable=SC2317 # run by on_exit
stop_all() {
	: >"$STOP"
	rm -f "$PAUSE"
	ns_del sk-cyc0 sk-cyc1 sk-cyc2 sk-cyc3
	rs iptables-nft -t raw -F 2>/dev/null
	teardown_all
}
on_exit stop_all

log "setup: topology, director, map rule, traffic"
if ! setup; then
	fail setup "$SETUP_ERR"
	exit 0
fi
pass setup

replacer &
BG_PIDS+=($!)
netns_cycler &
BG_PIDS+=($!)

# The reload times: every RELOAD_EVERY minutes, not in the last half minute; at least one.
reloads=()
for ((r = RELOAD_EVERY * 60; r < DUR - 30; r += RELOAD_EVERY * 60)); do reloads+=("$r"); done
((${#reloads[@]})) || reloads=($((DUR / 2)))
log "soak: ${DUR} s, reloads at ${reloads[*]} s, a sample every ${SAMPLE_EVERY} s"

t0=$SECONDS
next_sample=0 ri=0
while :; do
	t=$((SECONDS - t0))
	if ((ri < ${#reloads[@]} && t >= reloads[ri])); then
		reload
		ri=$((ri + 1))
		t=$((SECONDS - t0))
	fi
	if ((t >= next_sample)); then
		sample "$t"
		next_sample=$((next_sample + SAMPLE_EVERY))
	fi
	((t < DUR)) || break
	nap 1
done

: >"$STOP"
# The client and the workers end at their next round (an exchange, a replace, a cycle): up to a
# minute under TCG. The client writes its final counters as it goes.
for p in "${BG_PIDS[@]:1}"; do wait "$p" 2>/dev/null; done
traffic_read

ok=$((${T[tcp_ok]:-0} + ${T[udp_ok]:-0}))
err=$((${T[tcp_err]:-0} + ${T[udp_err]:-0}))
summary="tcp ${T[tcp_ok]:-?} ok ${T[tcp_err]:-?} errors, udp ${T[udp_ok]:-?} ok ${T[udp_err]:-?} errors, ${T[grace_err]:-?} errors right after a reload; last error: ${T[last_error]:-?}"
log "traffic: $summary"
if ((${T[tcp_ok]:-0} > 0 && ${T[udp_ok]:-0} > 0 && err * 100 <= (ok + err))); then
	pass traffic
else
	fail traffic "want >= 99% answered, TCP and UDP both: $summary"
fi

read -r rok rbad rlast rerr <"$WORK/replace.state" || rok=0
out=$(nltn "$NS_RS" stats 2>&1)
log "replaces: ${rok:-0} succeeded, ${rbad:-?} failed in $DUR s; table now: $out"
if ((${rok:-0} > 0 && ${rbad:-1} == 0)) && [[ $(field entries "$out") == $((rlast + 1)) ]]; then
	pass replaces
else
	fail replaces "want every replace to succeed and the last set ($((${rlast:-0} + 1)) entries) in the table: ${rok:-0} ok, ${rbad:-?} failed (${rerr:-}); stats: $out"
fi

read -r nok nbad nerr <"$WORK/netns.state" || nok=0
log "netns cycles: ${nok:-0} succeeded, ${nbad:-?} failed"
if ((${nok:-0} > 0 && ${nbad:-1} == 0)); then
	pass netns-cycles
else
	fail netns-cycles "${nok:-0} ok, ${nbad:-?} failed: ${nerr:-}"
fi

if [[ -z $RELOAD_ERR ]] && ((NRELOAD == ${#reloads[@]} && ok > RELOAD_OK_AT)); then
	pass reloads
else
	fail reloads "planned ${#reloads[@]}, done $NRELOAD; exchanges answered after the last: $((ok - RELOAD_OK_AT)); ${RELOAD_ERR:-no error}"
fi

want=$((DUR / SAMPLE_EVERY + 1))
expect_eq samples "$NSAMPLE" "$want" "soak-sample lines"
