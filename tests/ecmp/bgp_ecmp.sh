# shellcheck shell=bash
# bgp_ecmp: several directors behind a router's ECMP (issue 20). Each director's `l3dsr agent`
# announces the VIP over BGP (embedded GoBGP) to a BIRD 2 router, which installs one multipath
# route; the directors' mh services pick the same real for a flow, so that flows the router
# moves between directors keep their real and their connection.
#
#   cl ──── rt (BIRD) ──── sw (bridge) ─┬── d1 10.1.0.11  (agent: IPVS mh + mh-port, DSCP 21,
#   10.8.0.10-17  │  10.1.0.1           │                  BGP AS 65001)
#                 │                     ├── d2 10.1.0.12  (AS 65002)
#                 │                     └── d3 10.1.0.13  (AS 65003, started in "third")
#                 ├── rs1 10.2.1.30  (l3dsr apply: VIP 10.0.0.100 by DSCP 21, xt_DADDR;
#                 └── rs2 10.2.2.30   web.py bound to the VIP)
#
# Requests go cl → rt → one director (the ECMP choice) → rt → a real server; replies go
# rs → rt → cl (DSR). The directors reach the reals through rt. The VIP's route in rt comes from
# BGP alone. The directors share a switch (a bridge in its own namespace), as they would share
# a top-of-rack switch: a director whose link goes down takes no link of rt's down with it, so
# that rt learns of its death from the BGP hold timer (3 s), as it would of a host that lost
# power. (A veth straight to rt would tell BIRD at once: its neighbor's interface loses carrier,
# and a measured failover of half a second would say nothing of the hold timer.)
#
# Cases (each a pass or a fail with the reason; numbers are logged on "# HH:MM:SS" lines):
#   setup          the network, BIRD, the real servers (apply, web.py) and the agents d1, d2
#   sessions       BIRD has d1 and d2 Established; its route to 10.0.0.100/32 and the kernel's
#                  have two next hops; each agent's /metrics: l3dsr_bgp_session_up 1 and
#                  l3dsr_bgp_vip_announced{vip="10.0.0.100"} 1
#   spread         400 short requests (curl, 8 client addresses, each request its own port): IPVS
#                  connection counters of both directors grew (> 0), every answer is rs1 or rs2;
#                  the split is logged
#   same-real      64 fixed tuples through d1 alone (d2 in maintenance), then through d2 alone:
#                  each tuple gets the same real both times, and both reals are used
#   failover       5 runs: 8 downloads of 4 MB paced at 400 KB/s, at least one through each
#                  director; d1 killed (its link down, its agent SIGKILLed): every download
#                  completes, all bytes, curl exit 0, and rt's route loses d1 within 20 s;
#                  logged per run, median and worst: kill → rt's route without d1 (the hold
#                  timer) and kill → first packet on d2's link (tcpdump) of a download d1's IPVS
#                  held ESTABLISHED at the kill (adds TCP's retransmission backoff: the failover
#                  a client sees); a run with no download on d1 at the kill is run again, twice
#                  at most
#   failover-bfd   the same, 3 runs, with BFD on the sessions (the agents' neighbor `bfd: on`, rt's
#                  BIRD `bfd on` and a bfd protocol, 300 ms x 3): both BFD sessions Up first;
#                  rt's route loses d1 when BFD misses 3 packets, not at the hold timer; the
#                  times are logged as for failover
#   drain          `director maintenance on` on d1 under 8 downloads: the kernel route loses d1
#                  within 10 s, d1's IPVS still holds its flows' entries after that, every
#                  download completes; off: d1 is back
#   stop           SIGTERM to d1's agent under 8 downloads: the route loses d1 while the agent
#                  still runs (it withdraws first), the agent exits after its withdraw_delay (2 s)
#                  and within 20 s, its log says it withdrew, every download completes; d1's
#                  agent started again is back in the route
#   health-one     d1 cut from the reals (blackhole route in d1): d1 withdraws (its log says so,
#                  l3dsr_bgp_vip_announced 0), the route keeps d2 only, 40/40 requests answered;
#                  the route undone: d1 is back
#   health-all     both web servers stopped: no route to the VIP in rt; started: two next hops
#   third          d3 started: 256 fixed tuples before and after; the fractions that changed
#                  director and that landed on d3 are logged; none changed real
#   pmtu           rt's link to cl at MTU 1280 (everything else 1500): 8 × 10 MB downloads
#                  complete; l3dsr_icmp_relay_packets_total{result="relayed"} summed over the
#                  directors > 0
#   pmtu-needs-relay  agents restarted with icmp_relay: off: a download stalls (curl --max-time
#                  20 exits 28 short of 10 MB) and nothing is relayed
#   bad-asn, bad-dup, bad-family
#                  `l3dsr agent -f` of a file with asn 0 / the VIP announced twice / an IPv6
#                  local_address for an IPv4 neighbor: exit 2, the file named, IPVS unchanged
#   cleanup        agents stopped, the real servers' sockets killed (ss -K), namespaces gone
#
# Timeouts are for TCG: a process starts in about a second, python's web server can take over
# 10 s.

set -u

W=$PWD
HERE=$(cd "$(dirname "$0")" && pwd)/bgp_ecmp.d
BIN=$L3DSR_BIN
VIP=10.0.0.100
BIG4=4194304 RATE4=409600 BIG10=10485760
CLIENTS=(10.8.0.10 10.8.0.11 10.8.0.12 10.8.0.13 10.8.0.14 10.8.0.15 10.8.0.16 10.8.0.17)
ALL_CASES=(setup sessions spread same-real failover failover-bfd drain stop health-one health-all third pmtu
	pmtu-needs-relay bad-asn bad-dup bad-family cleanup)
NSS=(b-cl b-rt b-sw b-d1 b-d2 b-d3 b-rs1 b-rs2)
# director N: namespace, address, router side, ASN
dns() { echo "b-d$1"; }
daddr() { echo "10.1.0.1$1"; }
dgw() { echo 10.1.0.1; }
RS_ADDR=(10.2.1.30 10.2.2.30)
declare -A AGENT_PID=() WEB_PID=()
BIRD_PID=
# AGENT_BFD: on runs BFD on the agents' sessions (failover-bfd), with rt's BIRD set for it.
AGENT_BFD=off
SETUP_ERR=
# Each flow of curl gets a client port no other flow of the run used (see curl_many in
# tests/lib/dsrlab.sh: IPVS keeps a closed flow's entry and would reuse it unscheduled).
NEXT_PORT=30000

cleanup() {
	local p n
	for p in "${AGENT_PID[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${WEB_PID[@]}" $BIRD_PID; do kill "$p" 2>/dev/null; done
	# An orphan TCP socket that retransmits (a stalled download's) keeps its namespace, and the
	# DADDR rule in it, alive after the delete, and xt_DADDR could not be unloaded.
	for n in "${NSS[@]}"; do
		[[ -e /run/netns/$n ]] || continue
		timeout 20 ip netns exec "$n" ss -K -t -a >/dev/null 2>&1
	done
	for n in b-rs1 b-rs2; do
		[[ -e /run/netns/$n ]] || continue
		timeout 20 ip netns exec "$n" iptables-legacy -w -t raw -F 2>/dev/null
		timeout 20 ip netns exec "$n" iptables-nft -t raw -F 2>/dev/null
	done
	# ns_del also ends whatever else still runs in them (a download, a capture).
	ns_del "${NSS[@]}"
	wait 2>/dev/null
	AGENT_PID=() WEB_PID=() BIRD_PID=
}
on_exit cleanup

calc() { awk "BEGIN {printf \"%.3f\\n\", $*}"; }
now() { date +%s.%N; }

# --- the network ----------------------------------------------------------------------------

# link HOSTNS HOSTADDR/LEN GW PEERNS PEERIF [PEERADDR/LEN]: a veth from PEERNS (PEERIF) to HOSTNS
# (eth0), both up, the host's default route through GW (- for none); PEERIF is a port of br0
# when PEERNS is the switch.
link() {
	ip link add eth0 netns "$1" type veth peer name "$5" netns "$4" || return 1
	{
		printf 'link set lo up\nlink set eth0 up\naddr add %s dev eth0\n' "$2"
		[[ $3 == - ]] || echo "route add default via $3"
	} | timeout 20 ip -n "$1" -batch - || return 1
	if [[ $4 == b-sw ]]; then
		ip -n b-sw link set "$5" master br0 up
	else
		printf 'link set %s up\naddr add %s dev %s\n' "$5" "$6" "$5" | timeout 20 ip -n "$4" -batch -
	fi
}

net_up() {
	local n i
	for n in "${NSS[@]}"; do ip netns add "$n" || return 1; done
	ip -n b-rt link set lo up || return 1
	# No STP: a port forwards the moment it is up.
	printf 'link set lo up\nlink add br0 type bridge\nlink set br0 up\n' | timeout 20 ip -n b-sw -batch - || return 1
	link b-rt 10.1.0.1/24 - b-sw p-rt || return 1
	link b-cl 10.8.0.10/24 10.8.0.1 b-rt r-cl 10.8.0.1/24 || return 1
	for i in "${CLIENTS[@]:1}"; do ip -n b-cl addr add "$i/24" dev eth0 || return 1; done
	for i in 1 2 3; do link "$(dns "$i")" "$(daddr "$i")/24" "$(dgw "$i")" b-sw "p-d$i" || return 1; done
	for i in 1 2; do link "b-rs$i" "${RS_ADDR[i - 1]}/24" "10.2.$i.1" b-rt "r-rs$i" "10.2.$i.1/24" || return 1; done
	# Loose reverse-path filter: replies from the VIP come in on a real server's link, while the
	# route to the VIP points at the directors.
	# Multipath hash policy 3 (custom) with fields 0x37 (source and destination address, IP
	# protocol, source and destination port): the five-tuple from the packet's headers. Policy 1
	# (L4) takes a forwarded packet's hash from the skb when it has one, and a veth hands the
	# client socket's random hash (sk_txhash) through to the router: flows would not follow their
	# tuples, and a retransmission timeout (which picks a new sk_txhash) would move a flow.
	ip netns exec b-rt sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=2 \
		net.ipv4.fib_multipath_hash_policy=3 net.ipv4.fib_multipath_hash_fields=0x37 || return 1
	# A default route, as a router toward the Internet has. The directors' health checks go along
	# the DSR path, so their answers come from the VIP; once every director has withdrawn it
	# (health-all), rt has no route to the VIP, and loose reverse-path filtering drops a source
	# it has no route for: without a default the checks could never pass again, nor the VIP come
	# back (the first 6.12 runs: rs's sockets stuck in SYN-RECV; docs/bgp.md).
	ip -n b-rt route add default via 10.8.0.10 dev r-cl
}

# --- BIRD -------------------------------------------------------------------------------------

birdc_() { timeout 20 birdc -s "$W/bird.ctl" "$@"; }
established() { birdc_ show protocols "$1" 2>/dev/null | grep -q Established; }
# hops: the directors of the kernel's route to the VIP in rt, sorted ("d1 d2"; "" for none).
hops() {
	ip -n b-rt route show "$VIP/32" 2>/dev/null | grep -o 'via 10\.1\.0\.1[0-9]' |
		sed 's/via 10\.1\.0\.1\([0-9]\)/d\1/' | sort | squash
}
hops_are() { [[ $(hops) == "$1" ]]; }
# wait_hops WANT LIMIT [T0]: seconds from T0 (default: now) until the route's directors are WANT
# (printed; each poll takes a few tenths of a second under TCG), else 1.
wait_hops() {
	local t0=${3:-}
	[[ -n $t0 ]] || t0=$(now)
	until hops_are "$1"; do
		awk "BEGIN {exit !($(now) - $t0 <= $2)}" || return 1
		sleep 0.1
	done
	calc "$(now) - $t0"
}

# --- agents and servers -----------------------------------------------------------------------

# dconf N RELAY: director N's config file (RELAY on|off), printed.
dconf() {
	cat <<-EOF
		agent:
		  metrics: 127.0.0.1:9641
		  repair_interval: 2s
		  icmp_relay: $2
		  bgp:
		    asn: 6500$1
		    router_id: $(daddr "$1")
		    listen_port: 179
		    withdraw_delay: 2s
		    neighbors:
		      - {address: $(dgw "$1"), asn: 65000, hold_time: 3s$([[ $AGENT_BFD == on ]] && echo ", bfd: on")}
		    announce:
		      - $VIP
		director:
		  services:
		    - vip: $VIP:80
		      dscp: 21
		      scheduler: mh
		      scheduler_flags: [mh-port]
		      health: {kind: http, path: /health, interval: 2s, timeout: 2s, rise: 2, fall: 3}
		      reals:
		        - {address: ${RS_ADDR[0]}, weight: 100}
		        - {address: ${RS_ADDR[1]}, weight: 100}
	EOF
}

# agent_start N [RELAY]: director N's agent, in the background; waits for BIRD's Established.
agent_start() {
	local n=$1 relay=${2:-on}
	dconf "$n" "$relay" >"$W/d$n.$relay.conf"
	(exec ip netns exec "$(dns "$n")" "$BIN" agent -f "$W/d$n.$relay.conf") >>"$W/agent.d$n.log" 2>&1 &
	AGENT_PID[$n]=$!
	AGENT_ERR=
	if ! wait_for 90 up_or_dead "$n"; then
		AGENT_ERR="d$n: no session within 90 s: $(tail -n 5 "$W/agent.d$n.log" | squash)"
		return 1
	fi
	if ! kill -0 "${AGENT_PID[$n]}" 2>/dev/null; then
		wait "${AGENT_PID[$n]}"
		AGENT_ERR="d$n: the agent exited ($?): $(tail -n 5 "$W/agent.d$n.log" | squash)"
		unset "AGENT_PID[$n]"
		return 1
	fi
	# tcpfin 2 s: a closed flow's IPVS entry (FIN_WAIT in DSR: the director sees the client's FIN
	# only) goes within seconds, so that "third" can tell which director carries a reused tuple.
	nsx "$(dns "$n")" ipvsadm --set 900 2 300
}
# shellcheck disable=SC2317 # run by wait_for
up_or_dead() { ! kill -0 "${AGENT_PID[$1]}" 2>/dev/null || established "d$1"; }
# agent_stop N: SIGTERM (withdraw, withdraw_delay, Cease), waits for the exit.
agent_stop() {
	kill -TERM "${AGENT_PID[$1]}" 2>/dev/null
	wait "${AGENT_PID[$1]}" 2>/dev/null
	unset "AGENT_PID[$1]"
}

web_start() { # I (1 or 2)
	(cd "$W" && exec ip netns exec "b-rs$1" python3 "$HERE/web.py" "rs$1" "$VIP" 80) >>"$W/web.rs$1.log" 2>&1 &
	WEB_PID[$1]=$!
}
# shellcheck disable=SC2317 # run by wait_for
web_up() { ip netns exec "b-rs$1" bash -c "exec 3<>/dev/tcp/$VIP/80" 2>/dev/null; }
web_stop() {
	kill "${WEB_PID[$1]}" 2>/dev/null
	wait "${WEB_PID[$1]}" 2>/dev/null
	unset "WEB_PID[$1]"
}

scrape() { nsx "$(dns "$1")" curl -s -m 5 http://127.0.0.1:9641/metrics; }
# mval TEXT NAME LABELS: the value of the series NAME{LABELS} (labels as the exposition writes
# them, sorted), "" when absent.
mval() {
	local s=$2
	[[ -z $3 ]] || s+="{$3}"
	grep -F "$s " <<<"$1" | grep -v '^#' | awk '{print $2}' | head -n 1
}
mval0() { local v; v=$(mval "$@"); echo "${v:-0}"; }

# conns N: IPVS's connection counter of the service on director N (exact); 0 when unreadable.
conns() {
	nsx "$(dns "$1")" ipvsadm -Ln --stats --exact -t "$VIP:80" 2>/dev/null |
		awk '$1 == "TCP" {n = $3} END {print n + 0}'
}

# entries N: director N's IPVS connection entries as "CLIENT:PORT REAL STATE", sorted.
entries() {
	nsx "$(dns "$1")" ipvsadm -Lnc | awk '$1 == "TCP" {split($6, r, ":"); print $4, r[1], $3}' | sort
}

# flows FIRST COUNT OUT: client.py's COUNT fixed tuples from port FIRST; OUT gets
# "ADDR PORT ANSWER DIRECTOR" per flow (the director whose IPVS holds its entry ESTABLISHED,
# "none" if no director's does), read while the flows are held open: an earlier round's entry
# of a reused tuple is in FIN_WAIT.
flows() {
	local first=$1 count=$2 out=$3 stop=$W/stop.$1 n pid
	rm -f "$stop"
	ip netns exec b-cl python3 "$HERE/client.py" "$VIP" "$first" "$count" "$stop" "${CLIENTS[@]}" >"$out.raw" 2>"$out.err" &
	pid=$!
	wait_for 240 done_or_dead "$out.raw" "$pid"
	: >"$out.ent"
	for n in 1 2 3; do
		[[ -n ${AGENT_PID[$n]:-} ]] || continue
		entries "$n" | awk -v d="d$n" '$3 == "ESTABLISHED" {print $1, $2, d}' >>"$out.ent"
	done
	touch "$stop"
	wait "$pid"
	grep -v '^done$' "$out.raw" | while read -r a p ans; do
		d=$(awk -v k="$a:$p" '$1 == k {print $3; exit}' "$out.ent")
		echo "$a $p $ans ${d:-none}"
	done >"$out"
}

# no_entries REGEX: no director's IPVS has an entry matching REGEX.
# shellcheck disable=SC2317 # run by wait_for
no_entries() { ! { entries 1; entries 2; entries 3; } | grep -qE "$1"; }

# shellcheck disable=SC2317 # run by wait_for
done_or_dead() { grep -qx 'done' "$1" || ! kill -0 "$2" 2>/dev/null; }

# curl_all N OUT: N short requests from the client, spread over the 8 client addresses, each
# from its own port, in 8 curls at once; the answers to OUT.
curl_all() {
	local i a k per=$(($1 / 8)) pids=()
	for k in "${!CLIENTS[@]}"; do
		a=${CLIENTS[k]}
		for ((i = 0; i < per; i++)); do
			((i == 0)) || echo next
			printf 'url = "http://%s/"\ninterface = %s\nlocal-port = %d\nmax-time = 20\n' "$VIP" "$a" "$((NEXT_PORT++))"
		done >"$2.$k.urls"
		ip netns exec b-cl curl -sS -K "$2.$k.urls" >"$2.$k" 2>"$2.$k.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	cat "$2".[0-7] >"$2"
	cat "$2".[0-7].err >"$2.err"
}

# pick FIRST OUT: 32 candidate tuples from port FIRST probed with client.py; OUT gets up to 4
# "ADDR PORT" on d1 and up to 4 on d2 (the downloads' tuples: the route sends a tuple to the
# same director every time while its next hops stay).
pick() {
	flows "$1" 32 "$W/pick.$1"
	{
		awk '$4 == "d1"' "$W/pick.$1" | head -n 4
		awk '$4 == "d2"' "$W/pick.$1" | head -n 4
	} | awk '{print $1, $2, $4}' >"$2"
}

# downloads TUPLES N RATE MAXTIME TAG: one curl per tuple in the background, GET /big?n=N&rate=RATE;
# each writes "BYTES CODE EXIT" to $W/dl.TAG.ADDR.PORT; DL_PIDS are theirs.
DL_PIDS=()
downloads() {
	local a p d
	DL_PIDS=()
	while read -r a p d; do
		(
			ip netns exec b-cl curl -sS --interface "$a" --local-port "$p" -o /dev/null \
				-w '%{size_download} %{http_code}' --max-time "$4" "http://$VIP/big?n=$2&rate=$3" \
				>"$W/dl.$5.$a.$p" 2>"$W/dl.$5.$a.$p.err"
			echo " $?" >>"$W/dl.$5.$a.$p"
		) &
		DL_PIDS+=($!)
	done <"$1"
}
# dl_check TUPLES N TAG: "" when every download got N bytes with 200 and exit 0, else what failed.
dl_check() {
	local a p d r bad=
	while read -r a p d; do
		r=$(cat "$W/dl.$3.$a.$p" 2>/dev/null)
		[[ $r == "$2 200 0" ]] || bad+=" $a:$p via $d: '$r' $(squash <"$W/dl.$3.$a.$p.err");"
	done <"$1"
	echo "$bad"
}
# both_entries: d1's and d2's IPVS entries, each line "CLIENT:PORT RIP STATE dN".
both_entries() { entries 1 | sed 's/$/ d1/'; entries 2 | sed 's/$/ d2/'; }
# dl_started TUPLES: every download's tuple is ESTABLISHED in its director's IPVS (the third
# field of TUPLES), so that a kill or a drain finds them running; up to 60 s.
dl_started() {
	wait_for 60 _dl_started "$1"
}
# shellcheck disable=SC2317 # run by wait_for
_dl_started() {
	local a p d e
	e=$(both_entries)
	while read -r a p d; do
		grep -q "^$a:$p [0-9.]* ESTABLISHED $d\$" <<<"$e" || return 1
	done <"$1"
}
# dl_where TUPLES: "ADDR PORT DIRECTOR" for each tuple ESTABLISHED in a director's IPVS now
# ("none" where no director holds it ESTABLISHED).
dl_where() {
	local a p d e
	e=$(both_entries)
	while read -r a p d; do
		d=$(awk -v k="$a:$p" '$1 == k && $3 == "ESTABLISHED" {print $4; exit}' <<<"$e")
		echo "$a $p ${d:-none}"
	done <"$1"
}
dl_wait() { local p; for p in "${DL_PIDS[@]}"; do wait "$p"; done; DL_PIDS=(); }

# maint N on|off: `l3dsr director maintenance` on director N.
maint() {
	local out rc=0
	out=$(nsx "$(dns "$1")" "$BIN" director maintenance "$2" 2>&1) || rc=$?
	log "d$1: director maintenance $2: exit $rc: $(squash <<<"$out")"
	return "$rc"
}

setup_fail_all() {
	local c
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $1"; done
	cleanup
	exit 0
}

# --- setup ----------------------------------------------------------------------------------
log "modules"
modprobe -a ip_vs ip_vs_mh xt_DADDR 2>>"$W/setup.log" || SETUP_ERR="modprobe ip_vs ip_vs_mh xt_DADDR: $(squash <"$W/setup.log")"
[[ -n $SETUP_ERR ]] || net_up >>"$W/setup.log" 2>&1 || SETUP_ERR="the network: $(tail -n 3 "$W/setup.log" | squash)"
[[ -n $SETUP_ERR ]] && setup_fail_all "$SETUP_ERR"

(cd "$W" && exec ip netns exec b-rt bird -f -c "$HERE/bird.conf" -s "$W/bird.ctl") >>"$W/bird.log" 2>&1 &
BIRD_PID=$!
wait_for 30 birdc_ show status || setup_fail_all "bird did not start: $(tail -n 5 "$W/bird.log" | squash)"

for i in 1 2; do
	out=$(nsx "b-rs$i" "$BIN" apply -f "$HERE/rs.conf" 2>&1) ||
		setup_fail_all "rs$i: l3dsr apply -f rs.conf: $(squash <<<"$out")"
	log "rs$i apply: $(squash <<<"$out")"
	web_start "$i"
done
for i in 1 2; do
	wait_for 60 web_up "$i" || setup_fail_all "web.py on rs$i did not listen within 60 s: $(squash <"$W/web.rs$i.log")"
done
for i in 1 2; do
	agent_start "$i" || setup_fail_all "$AGENT_ERR"
done
t=$(wait_hops "d1 d2" 60) || setup_fail_all "the route to $VIP in rt did not get d1 and d2 within 60 s: $(ip -n b-rt route show "$VIP/32" | squash); d1: $(tail -n 5 "$W/agent.d1.log" | squash)"
log "route to $VIP via d1 and d2 ${t}s after the second session"
pass setup

# --- sessions ---------------------------------------------------------------------------------
bad=
for i in 1 2; do established "d$i" || bad+=" d$i not Established: $(birdc_ show protocols "d$i" | tail -n 1 | squash);"; done
br=$(birdc_ show route "$VIP/32")
log "birdc show route $VIP/32: $(squash <<<"$br")"
log "rt: ip route show $VIP/32: $(ip -n b-rt route show "$VIP/32" | squash)"
nh=$(grep -c 'via 10\.1\.0\.' <<<"$br")
((nh == 2)) || bad+=" birdc show route lists $nh next hops, want 2;"
hops_are "d1 d2" || bad+=" the kernel route's next hops are '$(hops)', want 'd1 d2';"
for i in 1 2; do
	m=$(scrape "$i")
	up=$(mval "$m" l3dsr_bgp_session_up "neighbor=\"$(dgw "$i")\"")
	an=$(mval "$m" l3dsr_bgp_vip_announced "vip=\"$VIP\"")
	log "d$i metrics: session_up $up, vip_announced $an"
	[[ $up == 1 && $an == 1 ]] || bad+=" d$i metrics: l3dsr_bgp_session_up{neighbor=\"$(dgw "$i")\"} '$up', l3dsr_bgp_vip_announced{vip=\"$VIP\"} '$an', want 1 and 1;"
done
if [[ -z $bad ]]; then pass sessions; else fail sessions "$bad"; fi

# agent_changes N...: the last route and check changes of the agents named, as log lines.
agent_changes() {
	local n l
	for n in "$@"; do
		grep -E 'announced|withdr|real (up|down)|quiesc|failed|level=(WARN|ERROR)' "$W/agent.d$n.log" | tail -n 12 |
			while IFS= read -r l; do log "d$n: ${l:0:400}"; done
	done
}

# --- spread -----------------------------------------------------------------------------------
# IPVS adds up its per-CPU counters every 2 s (the estimator): read them 3 s after the traffic.
sleep 3
c1=$(conns 1) c2=$(conns 2)
curl_all 400 "$W/spread"
sleep 3
n1=$(($(conns 1) - c1)) n2=$(($(conns 2) - c2))
right=$(grep -cxE 'rs1|rs2' "$W/spread")
log "spread: 400 requests, d1 $n1 connections, d2 $n2; answers rs1 $(grep -cx rs1 "$W/spread"), rs2 $(grep -cx rs2 "$W/spread"), right $right"
if ((n1 > 0 && n2 > 0 && right == 400)); then
	pass spread
else
	fail spread "want both directors' IPVS connection counters to grow and 400 answers rs1 or rs2; got d1 +$n1, d2 +$n2, $right right; curl: $(head -n 3 "$W/spread.err" | squash)"
	agent_changes 1 2
fi

# --- same-real --------------------------------------------------------------------------------
bad=
maint 2 on || bad+=" maintenance on d2 failed;"
t=$(wait_hops "d1" 20) || bad+=" the route still has '$(hops)' 20 s after maintenance on d2;"
flows 41000 64 "$W/same.d1"
maint 2 off || bad+=" maintenance off d2 failed;"
wait_hops "d1 d2" 30 >/dev/null || bad+=" d2 not back in the route within 30 s;"
maint 1 on || bad+=" maintenance on d1 failed;"
wait_hops "d2" 20 >/dev/null || bad+=" the route still has '$(hops)' 20 s after maintenance on d1;"
flows 41000 64 "$W/same.d2"
maint 1 off || bad+=" maintenance off d1 failed;"
wait_hops "d1 d2" 30 >/dev/null || bad+=" d1 not back in the route within 30 s;"
on1=$(awk '$4 == "d1" && $3 ~ /^rs[12]$/' "$W/same.d1" | wc -l)
on2=$(awk '$4 == "d2" && $3 ~ /^rs[12]$/' "$W/same.d2" | wc -l)
differ=$(join <(awk '{print $1":"$2, $3}' "$W/same.d1" | sort) <(awk '{print $1":"$2, $3}' "$W/same.d2" | sort) | awk '$2 != $3' | wc -l)
used=$(awk '{print $3}' "$W/same.d1" | sort -u | grep -c '^rs')
log "same-real: 64 tuples, $on1 answered through d1, $on2 through d2, $differ with another real the second time, reals used: $used"
((on1 == 64 && on2 == 64)) || bad+=" want 64 answers through d1 then 64 through d2, got $on1 and $on2 ($(grep -v ' rs[12] ' "$W/same.d1" "$W/same.d2" | head -n 3 | squash));"
((differ == 0)) || bad+=" $differ tuples changed real: $(join <(awk '{print $1":"$2, $3}' "$W/same.d1" | sort) <(awk '{print $1":"$2, $3}' "$W/same.d2" | sort) | awk '$2 != $3' | head -n 5 | squash);"
((used == 2)) || bad+=" the tuples used $used real(s), want both;"
if [[ -z $bad ]]; then pass same-real; else fail same-real "$bad"; fi

# --- failover ---------------------------------------------------------------------------------
# tcpdump_start NS FILTER OUT: a capture on NS's eth0, -tt timestamps, its pid in TCPDUMP_PID.
tcpdump_start() {
	ip netns exec "$1" tcpdump -l -n -tt -i eth0 "$2" >"$3" 2>"$3.err" &
	TCPDUMP_PID=$!
	wait_for 30 grep -q 'listening on' "$3.err"
}
tcpdump_stop() { kill -INT "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null; }

# d1_back: d1's link up, its default route again (a link down takes the routes through it),
# its agent started, the route with both directors; else 1, with the reason in BACK_ERR.
d1_back() {
	BACK_ERR=
	ip -n b-d1 link set eth0 up
	wait_for 10 ip -n b-d1 route replace default via "$(dgw 1)" || { BACK_ERR="no default route in d1"; return 1; }
	agent_start 1 || { BACK_ERR=$AGENT_ERR; return 1; }
	wait_hops "d1 d2" 60 >/dev/null || { BACK_ERR="d1 not back in the route within 60 s: '$(hops)'"; return 1; }
}

# failover_runs N FIRST LABEL: N runs of the failover from port FIRST on; FO_BAD gets what went
# wrong, and the times are logged under LABEL.
failover_runs() {
	local nruns=$1 base=$2 label=$3 run tup mac tk tr first ft gone sorted med worst
	local times=() rtimes=() skipped=
	FO_BAD=
	# A run that finds nothing to measure (no download on d1 at the kill) is run again, twice
	# at most; its downloads are checked all the same.
	for ((run = 1; run <= nruns + 2 && ${#times[@]} < nruns; run++)); do
		tup=$W/fo.$label.$run.tuples
		pick $((base + run * 100)) "$tup"
		if ! grep -q ' d1$' "$tup" || ! grep -q ' d2$' "$tup"; then
			skipped+=" run $run: the 32 candidate tuples did not reach both directors: $(awk '{print $4}' "$W/pick.$((base + run * 100))" | sort | uniq -c | squash);"
			continue
		fi
		# Only frames addressed to d2: with d1's port down the bridge floods frames for d1's MAC
		# to every port, and a capture on d2 sees them (a packet socket sees PACKET_OTHERHOST
		# frames, which d2's stack then drops), long before the route moves a flow.
		mac=$(ip -n b-d2 -br link show eth0 | awk '{print $3}')
		tcpdump_start b-d2 "ether dst $mac and tcp and dst host $VIP and dst port 80" "$W/fo.$label.$run.cap" ||
			FO_BAD+=" run $run: tcpdump did not start;"
		downloads "$tup" "$BIG4" "$RATE4" 120 "fo$label$run"
		dl_started "$tup" || log "$label run $run: not every download was ESTABLISHED on the director pick saw within 60 s: $(dl_where "$tup" | squash)"
		sleep 1
		# The downloads d1 carries at the kill, from d1's own IPVS table: pick's probe says where a
		# tuple went then, and a download that reuses it can land elsewhere (a retransmitted SYN
		# after a reset of the TIME_WAIT tuple, or next hops that changed order since the probe).
		dl_where "$tup" >"$W/fo.$label.$run.at-kill"
		awk '$3 == "d1" {print $1, $2}' "$W/fo.$label.$run.at-kill" >"$W/fo.$label.$run.ond1"
		tk=$(now)
		ip -n b-d1 link set eth0 down
		kill -KILL "${AGENT_PID[1]}"
		wait "${AGENT_PID[1]}" 2>/dev/null
		unset "AGENT_PID[1]"
		# The router's side of it: the hold timer (or BFD), then BIRD's route without d1.
		if tr=$(wait_hops "d2" 20 "$tk"); then
			rtimes+=("$tr")
		else
			tr=none
			FO_BAD+=" run $run: the route still had '$(hops)' 20 s after the kill;"
		fi
		dl_wait
		tcpdump_stop
		# The first packet of one of d1's tuples (tcpdump -n: "TS IP ADDR.PORT > VIP.80: ...").
		first=$(awk -v t="$(awk '{printf "%s.%s ", $1, $2}' "$W/fo.$label.$run.ond1")" '
			BEGIN { n = split(t, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
			$3 in want { print $1; exit }' "$W/fo.$label.$run.cap")
		log "$label run $run: d2 captured $(wc -l <"$W/fo.$label.$run.cap") packets to the VIP; tcpdump: $(tail -n 2 "$W/fo.$label.$run.cap.err" | squash)"
		gone=$(dl_check "$tup" "$BIG4" "fo$label$run")
		if [[ -n $first ]]; then
			ft=$(calc "$first - $tk")
			times+=("$ft")
		elif [[ ! -s $W/fo.$label.$run.ond1 ]]; then
			ft=none
			skipped+=" run $run: no download was on d1 at the kill ($(squash <"$W/fo.$label.$run.at-kill"));"
		else
			ft=none
			FO_BAD+=" run $run: no packet of the downloads d1 carried ($(squash <"$W/fo.$label.$run.ond1")) reached d2;"
		fi
		log "$label run $run: pick put $(grep -c ' d1$' "$tup") downloads on d1 and $(grep -c ' d2$' "$tup") on d2; d1 carried $(wc -l <"$W/fo.$label.$run.ond1") at the kill; route without d1 after ${tr}s, first packet of a d1 flow on d2 after ${ft}s; downloads: $(cat "$W/dl.fo$label$run".* 2>/dev/null | grep -v '^$' | squash)"
		[[ -z $gone ]] || FO_BAD+=" run $run:$gone"
		d1_back || { FO_BAD+=" run $run: $BACK_ERR;"; break; }
	done
	if ((${#times[@]})); then
		sorted=$(printf '%s\n' "${times[@]}" | sort -n)
		med=$(sed -n "$(((${#times[@]} + 1) / 2))p" <<<"$sorted")
		worst=$(tail -n 1 <<<"$sorted")
		log "$label time (kill -> first packet of a d1 flow on d2), ${#times[@]} runs: $(squash <<<"$sorted") s; median ${med}s, worst ${worst}s"
	fi
	if ((${#rtimes[@]})); then
		sorted=$(printf '%s\n' "${rtimes[@]}" | sort -n)
		log "$label route (kill -> rt's route without d1), ${#rtimes[@]} runs: $(squash <<<"$sorted") s; median $(sed -n "$(((${#rtimes[@]} + 1) / 2))p" <<<"$sorted")s, worst $(tail -n 1 <<<"$sorted")s"
	fi
	[[ -z $skipped ]] || log "$label: runs not measured:$skipped"
	((${#times[@]} == nruns)) || FO_BAD+=" ${#times[@]} of $nruns runs measured;$skipped"
}

failover_runs 5 42000 failover
bad=$FO_BAD
if [[ -z $bad ]]; then pass failover; else fail failover "want every download complete (4194304 bytes, 200, exit 0) in 5 runs, each with a failover time;$bad"; fi

# --- failover-bfd -----------------------------------------------------------------------------
# rt_bird CONF: BIRD reconfigured with CONF (its sessions restart where their options changed).
# A configuration that removes a protocol answers "Reconfiguration in progress" (BIRD shuts the
# protocol down first), one that does not "Reconfigured"; RT_BIRD_OUT keeps the answer.
rt_bird() {
	RT_BIRD_OUT=$(birdc_ configure "\"$1\"" 2>&1 | squash)
	log "rt: birdc configure $1: $RT_BIRD_OUT"
	[[ $RT_BIRD_OUT == *Reconfigur* && $RT_BIRD_OUT != *rror* ]]
}
# shellcheck disable=SC2317 # run by wait_for
bfd_up() { (($(birdc_ show bfd sessions | grep -cw Up) >= $1)); }
# agents_restart: d1's and d2's agents stopped and started again with AGENT_BFD as set.
agents_restart() {
	local n
	for n in 1 2; do
		agent_stop "$n"
		agent_start "$n" || { bad+=" $AGENT_ERR;"; return 1; }
	done
	wait_hops "d1 d2" 60 >/dev/null || { bad+=" the route is '$(hops)' 60 s after the agents' restart;"; return 1; }
}

bad=
sed '/hold time 3;/a\	bfd on;' "$HERE/bird.conf" >"$W/bird-bfd.conf"
cat >>"$W/bird-bfd.conf" <<'EOF'

# failover-bfd: BFD with each director, 300 ms x 3 (the agents' "bfd: on"). 100 ms x 3 lost
# the route in the only run with it, most likely BFD flapping under TCG with three VMs on 2 cores.
protocol bfd {
	interface "*" {
		min rx interval 300 ms;
		min tx interval 300 ms;
		multiplier 3;
	};
}
EOF
if rt_bird "$W/bird-bfd.conf"; then
	AGENT_BFD=on
	if agents_restart; then
		wait_for 60 bfd_up 2 || bad+=" BFD sessions not Up within 60 s: $(birdc_ show bfd sessions | squash);"
		log "failover-bfd: $(birdc_ show bfd sessions | squash)"
		if [[ -z $bad ]]; then
			failover_runs 3 60000 failover-bfd
			bad=$FO_BAD
		fi
	fi
else
	bad+=" BIRD refused bird-bfd.conf: $RT_BIRD_OUT;"
fi
# The rest of the scenario on the hold timer, as before.
AGENT_BFD=off
rt_bird "$HERE/bird.conf" || bad+=" BIRD did not take bird.conf back: $RT_BIRD_OUT;"
agents_restart || true
if [[ -z $bad ]]; then pass failover-bfd; else fail failover-bfd "want BFD Up, and every download complete in 3 runs, each with a failover time;$bad"; fi

# --- drain ------------------------------------------------------------------------------------
bad=
tup=$W/drain.tuples
pick 43000 "$tup"
grep -q ' d1$' "$tup" || bad+=" no candidate tuple went through d1;"
downloads "$tup" "$BIG4" "$RATE4" 120 drain
dl_started "$tup" || log "drain: not every download was ESTABLISHED within 60 s"
sleep 1
maint 1 on || bad+=" maintenance on d1 failed;"
if t=$(wait_hops "d2" 10); then
	log "drain: d1 left the route ${t}s after maintenance on"
	kept=0
	ent=$(entries 1)
	while read -r a p d; do
		[[ $d == d1 ]] || continue
		grep -q "^$a:$p " <<<"$ent" && kept=$((kept + 1))
	done <"$tup"
	log "drain: d1's IPVS still holds $kept of its $(grep -c ' d1$' "$tup") flows after the withdrawal"
	((kept == $(grep -c ' d1$' "$tup"))) || bad+=" d1's IPVS holds $kept of its $(grep -c ' d1$' "$tup") flows after the withdrawal;"
else
	bad+=" the route still has '$(hops)' 10 s after maintenance on d1;"
fi
m=$(scrape 1)
log "drain: d1 l3dsr_bgp_maintenance $(mval "$m" l3dsr_bgp_maintenance ""), vip_announced $(mval "$m" l3dsr_bgp_vip_announced "vip=\"$VIP\"")"
dl_wait
gone=$(dl_check "$tup" "$BIG4" drain)
[[ -z $gone ]] || bad+=" downloads:$gone"
maint 1 off || bad+=" maintenance off d1 failed;"
wait_hops "d1 d2" 30 >/dev/null || bad+=" d1 not back in the route within 30 s of maintenance off;"
if [[ -z $bad ]]; then pass drain; else fail drain "$bad"; fi

# --- stop -------------------------------------------------------------------------------------
# agent_exited N: director N's agent process is gone.
# shellcheck disable=SC2317 # run by wait_for
agent_exited() { ! kill -0 "${AGENT_PID[$1]}" 2>/dev/null; }
bad=
tup=$W/stop.tuples
pick 47000 "$tup"
grep -q ' d1$' "$tup" || bad+=" no candidate tuple went through d1;"
downloads "$tup" "$BIG4" "$RATE4" 120 stop
dl_started "$tup" || log "stop: not every download was ESTABLISHED on the director pick saw within 60 s: $(dl_where "$tup" | squash)"
sleep 1
tk=$(now)
kill -TERM "${AGENT_PID[1]}"
if t=$(wait_hops "d2" 10 "$tk"); then
	running=no
	kill -0 "${AGENT_PID[1]}" 2>/dev/null && running=yes
	log "stop: d1 left the route ${t}s after SIGTERM; the agent still running then: $running"
	[[ $running == yes ]] || bad+=" d1's agent had exited when the route lost d1 (want the withdrawal first);"
else
	bad+=" the route still has '$(hops)' 10 s after SIGTERM to d1's agent;"
fi
if wait_for 20 agent_exited 1; then
	te=$(calc "$(now) - $tk")
	wait "${AGENT_PID[1]}"
	rc=$?
	log "stop: d1's agent exited $rc ${te}s after SIGTERM; its log: $(grep -E 'withdr|Cease|stopp|delay' "$W/agent.d1.log" | tail -n 4 | squash)"
	awk "BEGIN {exit !($te >= 2)}" || bad+=" d1's agent exited ${te}s after SIGTERM, before its withdraw_delay of 2 s;"
	((rc == 0)) || bad+=" d1's agent exited $rc;"
	grep -q 'withdrew VIP' "$W/agent.d1.log" || bad+=" no 'withdrew VIP' in d1's log;"
else
	bad+=" d1's agent still running 20 s after SIGTERM;"
	kill -KILL "${AGENT_PID[1]}" 2>/dev/null
	wait "${AGENT_PID[1]}" 2>/dev/null
fi
unset "AGENT_PID[1]"
dl_wait
gone=$(dl_check "$tup" "$BIG4" stop)
[[ -z $gone ]] || bad+=" downloads:$gone"
log "stop: downloads: $(cat "$W/dl.stop".* 2>/dev/null | grep -v '^$' | squash)"
agent_start 1 || bad+=" $AGENT_ERR;"
wait_hops "d1 d2" 60 >/dev/null || bad+=" d1 not back in the route within 60 s of its restart;"
if [[ -z $bad ]]; then pass stop; else fail stop "$bad"; fi

# --- health-one -------------------------------------------------------------------------------
bad=
ip -n b-d1 route add blackhole 10.2.0.0/16
if t=$(wait_hops "d2" 20); then
	log "health-one: d1 left the route ${t}s after the blackhole"
else
	bad+=" the route still has '$(hops)' 20 s after d1 lost the reals;"
fi
m=$(scrape 1)
an=$(mval "$m" l3dsr_bgp_vip_announced "vip=\"$VIP\"")
[[ $an == 0 ]] || bad+=" d1's l3dsr_bgp_vip_announced{vip=\"$VIP\"} is '$an', want 0;"
wl=$(grep -i 'withdr' "$W/agent.d1.log" | grep -F "$VIP" | tail -n 1)
log "health-one: d1's log: $wl"
[[ -n $wl ]] || bad+=" d1's log has no withdrawal of $VIP: $(tail -n 5 "$W/agent.d1.log" | squash);"
curl_all 40 "$W/h1"
right=$(grep -cxE 'rs1|rs2' "$W/h1")
log "health-one: $right/40 answered"
((right == 40)) || bad+=" $right/40 requests answered: $(head -n 3 "$W/h1.err" | squash);"
ip -n b-d1 route del blackhole 10.2.0.0/16
wait_hops "d1 d2" 30 >/dev/null || bad+=" d1 not back in the route within 30 s of the reals' return;"
if [[ -z $bad ]]; then pass health-one; else fail health-one "$bad"; fi

# --- health-all -------------------------------------------------------------------------------
bad=
web_stop 1
web_stop 2
if t=$(wait_hops "" 20); then
	log "health-all: no route to $VIP in rt ${t}s after both web servers stopped"
	br=$(birdc_ show route "$VIP/32")
	grep -q 'via' <<<"$br" && bad+=" birdc still shows a route: $(squash <<<"$br");"
else
	bad+=" the route still has '$(hops)' 20 s after both reals stopped;"
fi
web_start 1
web_start 2
for i in 1 2; do wait_for 60 web_up "$i" || bad+=" web.py on rs$i did not come back;"; done
if t=$(wait_hops "d1 d2" 30); then
	log "health-all: route back with d1 and d2 ${t}s after the servers listened"
else
	bad+=" the route is '$(hops)' 30 s after the reals came back, want 'd1 d2';"
	for i in 1 2; do
		log "health-all: d$i: $(scrape "$i" | grep -E '^l3dsr_health_(up|check_duration_seconds_count)' | squash)"
		log "health-all: rs$i sockets: $(ip netns exec "b-rs$i" ss -tan | awk 'NR > 1 {print $1}' | sort | uniq -c | squash)"
	done
	agent_changes 1 2
fi
if [[ -z $bad ]]; then pass health-all; else fail health-all "$bad"; fi

# --- third ------------------------------------------------------------------------------------
bad=
flows 44000 256 "$W/third.before"
if agent_start 3; then
	wait_hops "d1 d2 d3" 30 >/dev/null || bad+=" the route is '$(hops)' 30 s after d3's session, want 'd1 d2 d3';"
else
	bad+=" $AGENT_ERR;"
fi
# The first round's entries end (tcpfin 2 s) before the second round reuses the tuples, so that
# an entry tells the director of the second round.
wait_for 30 no_entries ':44[0-9]{3} ' || log "third: the first round's IPVS entries were still there 30 s later"
flows 44000 256 "$W/third.after"
ok_b=$(awk '$3 ~ /^rs[12]$/ && $4 != "none"' "$W/third.before" | wc -l)
ok_a=$(awk '$3 ~ /^rs[12]$/ && $4 != "none"' "$W/third.after" | wc -l)
j=$(join <(awk '{print $1":"$2, $3, $4}' "$W/third.before" | sort) <(awk '{print $1":"$2, $3, $4}' "$W/third.after" | sort))
moved=$(awk '$3 != $5' <<<"$j" | wc -l)
ond3=$(awk '$5 == "d3"' <<<"$j" | wc -l)
realchg=$(awk '$2 != $4' <<<"$j" | wc -l)
log "third: 256 tuples; before d1 $(grep -c ' d1$' "$W/third.before"), d2 $(grep -c ' d2$' "$W/third.before"); after d1 $(grep -c ' d1$' "$W/third.after"), d2 $(grep -c ' d2$' "$W/third.after"), d3 $ond3"
log "third: changed director $moved/256 ($(calc "100 * $moved / 256")%), on d3 $ond3/256 ($(calc "100 * $ond3 / 256")%), changed real $realchg/256"
((ok_b == 256 && ok_a == 256)) || bad+=" answered with a director's entry: $ok_b before, $ok_a after, want 256 each;"
((realchg == 0)) || bad+=" $realchg tuples changed real: $(awk '$2 != $4' <<<"$j" | head -n 5 | squash);"
((ond3 > 0)) || bad+=" no tuple went to d3;"
if [[ -z $bad ]]; then pass third; else fail third "$bad"; fi
[[ -z ${AGENT_PID[3]:-} ]] || agent_stop 3
wait_hops "d1 d2" 30 >/dev/null || log "third: the route is '$(hops)' after d3 stopped"

# --- pmtu -------------------------------------------------------------------------------------
# relayed: l3dsr_icmp_relay_packets_total{result="relayed"} summed over d1 and d2.
relayed() {
	local s=0 i v
	for i in 1 2; do
		v=$(mval0 "$(scrape "$i")" l3dsr_icmp_relay_packets_total 'result="relayed"')
		log "d$i: relayed $v" >&2
		s=$(calc "$s + $v")
	done
	printf '%.0f\n' "$s"
}
flush_pmtu() { local i; for i in 1 2; do ip -n "b-rs$i" route flush cache; done; }

bad=
# Only rt's side of the client's link: the client still sends (and advertises an MSS for) 1500,
# and the small requests fit, while a reply of 1500 bytes with DF cannot leave rt toward the
# client: rt sends "fragmentation needed" to the VIP, which the route sends to a director.
ip -n b-rt link set r-cl mtu 1280
flush_pmtu
r0=$(relayed)
: >"$W/pmtu.tuples"
for k in "${!CLIENTS[@]}"; do echo "${CLIENTS[k]} $((45000 + k)) ?" >>"$W/pmtu.tuples"; done
# What reaches the real servers: the relayed copies (and IPVS's own forward of the ICMP, on the
# director whose connection table has the flow), and what their TCP made of them.
icmp_pids=()
for i in 1 2; do
	ip netns exec "b-rs$i" tcpdump -l -n -v -i eth0 icmp >"$W/pmtu.rs$i.cap" 2>"$W/pmtu.rs$i.cap.err" &
	icmp_pids+=($!)
done
downloads "$W/pmtu.tuples" "$BIG10" 0 180 pmtu
dl_wait
for i in "${icmp_pids[@]}"; do kill -INT "$i" 2>/dev/null; wait "$i" 2>/dev/null; done
for i in 1 2; do
	log "pmtu: rs$i received $(grep -c 'proto ICMP' "$W/pmtu.rs$i.cap") ICMP; the first: $(grep -m 1 -A 4 'proto ICMP' "$W/pmtu.rs$i.cap" | squash)"
	log "pmtu: rs$i sockets: $(ip netns exec "b-rs$i" ss -tni state established '( sport = :80 )' | grep -o 'pmtu:[0-9]*' | sort | uniq -c | squash)"
	log "pmtu: rs$i counters: $(ip netns exec "b-rs$i" nstat -az IcmpInMsgs IcmpInErrors IcmpInCsumErrors IcmpInDestUnreachs TcpExtOutOfWindowIcmps TcpExtLockDroppedIcmps 2>&1 | grep -v '^#' | awk '{printf "%s %s, ", $1, $2}')"
done
gone=$(dl_check "$W/pmtu.tuples" "$BIG10" pmtu)
r1=$(relayed)
log "pmtu: 8 downloads of 10 MB: $(cat "$W"/dl.pmtu.* 2>/dev/null | grep -v '^$' | squash); relayed $r0 -> $r1"
log "pmtu: rs1's route to ${CLIENTS[0]}: $(ip -n b-rs1 route get "${CLIENTS[0]}" from "$VIP" 2>&1 | squash)"
[[ -z $gone ]] || bad+=" downloads:$gone"
((r1 > r0)) || bad+=" nothing relayed ($r0 -> $r1);"
if [[ -z $bad ]]; then pass pmtu; else fail pmtu "want 8 downloads of $BIG10 bytes (200, exit 0) and relayed > 0;$bad"; fi

# --- pmtu-needs-relay -------------------------------------------------------------------------
bad=
for i in 1 2; do
	agent_stop "$i"
	agent_start "$i" off || bad+=" $AGENT_ERR;"
	wait_hops "d1 d2" 30 >/dev/null || bad+=" the route is '$(hops)' after d$i restarted;"
done
flush_pmtu
log "pmtu-needs-relay: rs1's route to ${CLIENTS[0]} after the flush: $(ip -n b-rs1 route get "${CLIENTS[0]}" from "$VIP" 2>&1 | squash)"
echo "${CLIENTS[0]} 46000 ?" >"$W/stall.tuples"
downloads "$W/stall.tuples" "$BIG10" 0 20 stall
dl_wait
r=$(cat "$W/dl.stall.${CLIENTS[0]}.46000")
read -r got code rc <<<"$r"
rr=$(relayed)
log "pmtu-needs-relay: relay off: curl --max-time 20: bytes $got, status $code, exit $rc; relayed $rr"
[[ $rc == 28 && ${got:-0} -lt $BIG10 ]] || bad+=" want curl exit 28 with fewer than $BIG10 bytes, got '$r';"
((rr == 0)) || bad+=" $rr packets relayed with the relay off;"
if [[ -z $bad ]]; then pass pmtu-needs-relay; else fail pmtu-needs-relay "$bad"; fi
ip -n b-rt link set r-cl mtu 1500

# --- bad input --------------------------------------------------------------------------------
# bad_conf CASE FILE WORD: `l3dsr agent -f FILE` in d1 (whose agent runs) exits 2 naming FILE and
# WORD, and IPVS is as it was.
bad_conf() {
	local c=$1 f=$HERE/$2 out rc=0 s0
	s0=$(nsx b-d1 ipvsadm -Sn)
	out=$(nsx b-d1 "$BIN" agent -f "$f" 2>&1) || rc=$?
	log "$c: exit $rc: $(squash <<<"$out")"
	if ((rc == 2)) && [[ $out == *"$2:"* && $out == *"$3"* && $(nsx b-d1 ipvsadm -Sn) == "$s0" ]]; then
		pass "$c"
	else
		fail "$c" "want exit 2, '$2:' and '$3' in the error, IPVS unchanged; got exit $rc: $(squash <<<"$out")"
	fi
}
bad_conf bad-asn bad-asn.conf asn
bad_conf bad-dup bad-dup.conf "$VIP"
bad_conf bad-family bad-family.conf local_address

# --- cleanup ----------------------------------------------------------------------------------
cleanup
# The agents' logs, into the scenario's log on the host (logs/bgp_ecmp.log): what each announced,
# withdrew and why, and each check's changes.
for n in 1 2 3; do
	[[ -f $W/agent.d$n.log ]] || continue
	echo "---- agent d$n: its log but debug lines (of $(wc -l <"$W/agent.d$n.log") lines)"
	grep -v 'level=DEBUG' "$W/agent.d$n.log" | tail -n 300
done
left=$(ip netns list | grep -o '^b-[a-z0-9]*' | squash)
if [[ -z $left && -z $(jobs -p) ]]; then
	pass cleanup
else
	fail cleanup "want no namespace b-* and no job left; namespaces: '$left', jobs: $(jobs -p | squash)"
fi
exit 0
