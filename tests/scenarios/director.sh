# shellcheck shell=bash
# director: the classic L3 DSR path with the director and both real servers set up by `l3dsr`
# alone (issue #4): no ipvsadm, iptables, nft or sysctl command touches the director or a real
# server. (The client and the router are the network around them; they are set up with ip and
# sysctl like any lab.)
#
#   client ── router ─┬─ director   (l3dsr director service/real add: IPVS + nft DSCP mark)
#                     ├─ rs1        (l3dsr realserver up: VIPs on lo, sysctls, DADDR map, tunl0)
#                     └─ rs2
#   (tests/lib/topo.sh: two real servers, IPv4 and IPv6)
#
# VIP_A (10.0.0.1, 2001:db8:80::1) runs in DSCP mode (masquerade + DSCP 21 / 22), VIP_B
# (10.0.0.2, 2001:db8:80::2) in IPIP mode (IPVS tunnel, IPIP / IP6IP6). Each real server runs
# director.d/server.py, whose answers name the server and count the requests it saw.
#
# Cases (FAM = ipv4 | ipv6):
#   setup                       every l3dsr command succeeded (else all cases fail with it)
#   FAM-distribution            200 HTTP requests (200 connections) to VIP_A:80 all answered from
#                               the VIP with the run's token, spread over rs1 and rs2 (both > 0)
#   FAM-counters                `director show -o json`: each real's 64-bit connection counter
#                               equals the answers that named it; the server's own count too;
#                               the real server's DADDR map entry counted packets
#   FAM-udp                     a datagram to VIP_A:7 is answered from VIP_A by a real server
#   FAM-persistence             with --persistent 300, 30 requests all reach one real server
#   FAM-real-del                after `director real del` of one real, 30 requests all reach the
#                               other and the removed server's count does not move
#   FAM-ipip-tcp, FAM-ipip-udp  the same over the tunnel path (VIP_B)
#   FAM-ipip-encap              on the real servers' links the requests for VIP_B are IPIP
#                               (proto 4) / IP6IP6 (next header 41) packets to the RIP, and no
#                               unencapsulated packet for VIP_B passes
#   show                        `director show` lists every service with its mode and DSCP
#   idempotent                  running the whole setup again prints "no change" for every
#                               command and leaves IPVS, the nft table and the VIPs identical
#   coexist-nft, coexist-iptables
#                               a foreign nft table and iptables rules made before the setup are
#                               byte-identical after it (twice) and after the teardown
#   teardown                    `director service del` of every service leaves no IPVS service,
#                               no table inet l3dsr and no VIP on the director's lo

set -u

topo_init d- 46 2
NS_RS1=${RS_NS[0]} NS_RS2=${RS_NS[1]}
RS1_4=${RS_IP4[0]} RS1_6=${RS_IP6[0]} RS2_4=${RS_IP4[1]} RS2_6=${RS_IP6[1]}
VIPA4=10.0.0.1 VIPA6=2001:db8:80::1 VIPB4=10.0.0.2 VIPB6=2001:db8:80::2
DSCP4=21 DSCP6=22
TCP_PORT=80 UDP_PORT=7
N_DIST=200 N_STICK=30

TOKEN=l3dsr-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 16)
WORK=$PWD
HERE=$(dirname "$0")/director.d
BIN=$L3DSR_BIN

SETUP_ERR=
BG_PIDS=() CAP_PIDS=()
on_exit teardown_all

# The director's whole setup: what an operator would type.
director_setup() {
	local l=() v p
	for v in "$VIPA4:$DSCP4" "[$VIPA6]:$DSCP6"; do
		for p in "tcp:$TCP_PORT" "udp:$UDP_PORT"; do
			l+=("service add --vip ${v%:*}:${p#*:} --proto ${p%%:*} --dscp ${v##*:} --scheduler wlc")
		done
	done
	for v in "$VIPB4" "[$VIPB6]"; do
		for p in "tcp:$TCP_PORT" "udp:$UDP_PORT"; do
			l+=("service add --vip $v:${p#*:} --proto ${p%%:*} --mode ipip --scheduler wlc")
		done
	done
	for v in "$VIPA4 $RS1_4 $RS2_4" "[$VIPA6] $RS1_6 $RS2_6" "$VIPB4 $RS1_4 $RS2_4" "[$VIPB6] $RS1_6 $RS2_6"; do
		set -- $v
		for p in "tcp:$TCP_PORT" "udp:$UDP_PORT"; do
			l+=("real add --vip $1:${p#*:} --proto ${p%%:*} --real $2 --weight 100")
			l+=("real add --vip $1:${p#*:} --proto ${p%%:*} --real $3 --weight 100")
		done
	done
	local c
	: >"$WORK/director.out"
	for c in "${l[@]}"; do
		# shellcheck disable=SC2086
		step nsx "$NS_DIR" "$BIN" director $c || return 1
		tail -n 3 "$WORK/setup.log" | sed "s|^|director $c: |" >>"$WORK/director.out"
	done
}

realserver_setup() {
	local n out
	for n in "$NS_RS1" "$NS_RS2"; do
		step nsx "$n" "$BIN" realserver up --vip "$VIPA4" --dscp "$DSCP4" || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIPA6" --dscp "$DSCP6" || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIPB4" --mode ipip || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIPB6" --mode ipip || return 1
	done
}

count_of() { cat "$WORK/count.$1" 2>/dev/null || echo 0; }

# conn_diag FILE: for a failure message, the answers in order (server:client port), the client
# ports that earlier requests of this run used too, and IPVS's connection entries.
conn_diag() {
	local seq dup SQUASH_MAX=4000
	seq=$(sed -n 's/.*name=\(rs[12]\) .* cport=\([0-9]*\) .*/\1:\2/p' "$1" | squash)
	dup=$(cat "$WORK"/*.dist "$WORK"/*.stick "$WORK"/*.del 2>/dev/null | sed -n 's/.* cport=\([0-9]*\) .*/\1/p' |
		sort | uniq -d | squash)
	echo "order: $seq; ports used twice: ${dup:-none}; ip_vs_conn: $(nsx "$NS_DIR" cat /proc/net/ip_vs_conn | head -n 12 | squash)"
}

# curl_many (tests/lib/dsrlab.sh) takes its client ports from here on.
# shellcheck disable=SC2034 # read by curl_many
CLI_PORT=20000

# snapshot: the state the setup makes, without counters.
snapshot() {
	{
		nsx "$NS_DIR" "$BIN" director show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for s in d["services"]:
    s.pop("stats")
    for r in s["reals"]:
        for k in ("stats", "active_conns", "inactive_conns", "persist_conns"):
            r.pop(k)
print(json.dumps(d, sort_keys=True, indent=1))'
		nsx "$NS_DIR" nft list table inet l3dsr
		ip -n "$NS_DIR" -o addr show dev lo
		for n in "$NS_RS1" "$NS_RS2"; do
			ip -n "$n" -o addr show dev lo
			ip -n "$n" -o link show | awk '{print $2, $3}'
		done
	} 2>&1
}

foreign_state() {
	{
		nsx "$NS_DIR" nft list ruleset | awk '/^table inet l3dsr /{skip=1} skip&&/^}/{skip=0; next} !skip'
		nsx "$NS_DIR" iptables-legacy-save | grep -v '^#'
		nsx "$NS_DIR" ip6tables-legacy-save | grep -v '^#'
	} 2>&1
}

# ---------------------------------------------------------------------------------------------
ALL_CASES=(setup show idempotent coexist-nft coexist-iptables teardown)
for f in ipv4 ipv6; do
	for c in distribution counters udp persistence real-del ipip-tcp ipip-udp ipip-encap; do
		ALL_CASES+=("$f-$c")
	done
done

log "modules"
modprobe -a ip_vs ip_vs_wlc ipip ip6_tunnel 2>>"$WORK/setup.log" || true
# topo.sh gives the director and the real servers only their addresses and default routes:
# what any host has before l3dsr.
step topo_up
if [[ -z $SETUP_ERR ]]; then
	# Someone else's firewall on the director, made before l3dsr: it must stay as it is.
	step nsx "$NS_DIR" nft -f - <<-'EOF'
		table inet other {
			chain input { type filter hook input priority 10; policy accept; tcp dport 2222 counter accept; }
		}
		table ip mangle_other {
			chain pre { type filter hook prerouting priority -150; policy accept; ip daddr 192.0.2.200 counter; }
		}
	EOF
	step nsx "$NS_DIR" iptables-legacy -w -t mangle -A PREROUTING -d 192.0.2.201/32 -j ACCEPT
	step nsx "$NS_DIR" ip6tables-legacy -w -A INPUT -s 2001:db8:ff::/64 -j ACCEPT
	FOREIGN_BEFORE=$(foreign_state)
fi
director_setup
realserver_setup
[[ -n $SETUP_ERR ]] || rs_servers_start "$HERE/server.py" "$TCP_PORT" "$UDP_PORT" "$VIPA4" "$VIPA6" "$VIPB4" "$VIPB6"

if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup

# --- idempotency and coexistence
SNAP1=$(snapshot)
: >"$WORK/setup.log"
director_setup
realserver_setup
SNAP2=$(snapshot)
changed=$(grep -vE '^(no change|warning: )' "$WORK/setup.log" | grep -v '^$' | head -n 5 | squash)
if [[ -z $SETUP_ERR && -z $changed && $SNAP1 == "$SNAP2" ]]; then
	pass idempotent
else
	fail idempotent "second run: want only 'no change' and identical state; got output '$changed' ${SETUP_ERR:-}; diff: $(diff <(echo "$SNAP1") <(echo "$SNAP2") | head -n 6 | squash)"
fi
SETUP_ERR=

# Captures on the router's links to the real servers, for the IPIP case.
for n in 1 2; do
	ip netns exec "$NS_RTR" tcpdump -n -i "${RS_LINK[n - 1]}" -w "$WORK/rs$n.pcap" -U \
		"(ip and (proto 4 or dst host $VIPB4)) or (ip6 and (ip6 proto 41 or dst host $VIPB6))" \
		>/dev/null 2>"$WORK/tcpdump.rs$n.err" &
	BG_PIDS+=($!)
	CAP_PIDS+=($!)
done
for n in 1 2; do wait_for 10 grep -q listening "$WORK/tcpdump.rs$n.err"; done

for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then
		VA=$VIPA4 VB=$VIPB4 HA=$VIPA4 HB=$VIPB4 R1=$RS1_4 R2=$RS2_4 SOC=UDP4 CLI=$CLI4
	else
		VA=$VIPA6 VB=$VIPB6 HA="[$VIPA6]" HB="[$VIPB6]" R1=$RS1_6 R2=$RS2_6 SOC=UDP6 CLI=$CLI6
	fi

	# --- distribution and counters
	b1=$(count_of rs1) b2=$(count_of rs2)
	curl_many "$HA" "$N_DIST" "$WORK/$FAM.dist"
	n_all=$(grep -c "^l3dsr-director .*token=$TOKEN local=$VA client=$CLI " "$WORK/$FAM.dist")
	n1=$(grep -c "name=rs1 token=$TOKEN local=$VA " "$WORK/$FAM.dist")
	n2=$(grep -c "name=rs2 token=$TOKEN local=$VA " "$WORK/$FAM.dist")
	if ((n_all == N_DIST && n1 > 0 && n2 > 0 && n1 + n2 == N_DIST)); then
		pass "$FAM-distribution"
	else
		fail "$FAM-distribution" "want $N_DIST answers from $VA to $CLI, both real servers > 0; got $n_all (rs1 $n1, rs2 $n2): $(tail -n 2 "$WORK/$FAM.dist" | squash) $(squash <"$WORK/$FAM.dist.err")"
	fi
	# IPVS folds its per-CPU counters into the totals it reports from its estimator, every
	# 2 seconds: wait until the connections of both reals add up to the answers.
	real_conns() {
		nsx "$NS_DIR" "$BIN" director show -o json 2>&1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = [s for s in d["services"] if s["vip"] == sys.argv[1] and s["port"] == int(sys.argv[2]) and s["protocol"] == "tcp"][0]
c = {r["address"]: r["stats"]["connections"] for r in s["reals"]}
print(c.get(sys.argv[3], -1), c.get(sys.argv[4], -1))' "$VA" "$TCP_PORT" "$R1" "$R2" 2>&1
	}
	conns_add_up() { read -r c1 c2 < <(real_conns) && ((c1 + c2 == n1 + n2)); }
	wait_for 10 conns_add_up
	read -r c1 c2 < <(real_conns)
	s1=$(($(count_of rs1) - b1)) s2=$(($(count_of rs2) - b2))
	mapc=$(nsx "$NS_RS1" "$BIN" rule list -o json 2>&1 | python3 -c '
import json, sys
print(sum(e.get("packets", 0) for e in json.load(sys.stdin) if e["vip"] == sys.argv[1]))' "$VA" 2>&1)
	if [[ $c1 == "$n1" && $c2 == "$n2" && $s1 == "$n1" && $s2 == "$n2" && $mapc =~ ^[0-9]+$ ]] && ((mapc > 0)); then
		pass "$FAM-counters"
	else
		fail "$FAM-counters" "want director conns = answers = server counts per real (rs1 $n1, rs2 $n2) and rs1's map entry for $VA > 0 packets; got director $c1/$c2, servers $s1/$s2, map packets '$mapc'; $(conn_diag "$WORK/$FAM.dist")"
	fi

	# --- UDP
	out=$(printf 'ping\n' | nsx "$NS_CLI" socat -T 5 - "$SOC:$HA:$UDP_PORT" 2>&1)
	if [[ $out =~ ^l3dsr-director\ name=rs[12]\ token=$TOKEN\ local=$VA\ client=$CLI\  ]]; then
		pass "$FAM-udp"
	else
		fail "$FAM-udp" "want one answer from $VA to $CLI; got '$(squash <<<"$out")'"
	fi

	# --- persistence
	step nsx "$NS_DIR" "$BIN" director service edit --vip "$HA:$TCP_PORT" --proto tcp --persistent 300
	curl_many "$HA" "$N_STICK" "$WORK/$FAM.stick"
	names=$(grep -o 'name=rs[12]' "$WORK/$FAM.stick" | sort | uniq -c | awk '{print $1, $2}' | squash)
	if [[ -z $SETUP_ERR && $(grep -c "token=$TOKEN local=$VA " "$WORK/$FAM.stick") == "$N_STICK" && $names =~ ^$N_STICK\ name=rs[12]$ ]]; then
		pass "$FAM-persistence"
	else
		fail "$FAM-persistence" "want all $N_STICK answers from one real server; got '$names' ${SETUP_ERR:-}; $(conn_diag "$WORK/$FAM.stick")"
	fi
	SETUP_ERR=

	# --- real removal: the one that got the sticky client goes.
	gone=${names##*name=}
	if [[ $gone == rs1 ]]; then gone_ip=$R1 stay=rs2; else gone=rs2 gone_ip=$R2 stay=rs1; fi
	step nsx "$NS_DIR" "$BIN" director service edit --vip "$HA:$TCP_PORT" --proto tcp --persistent 0
	step nsx "$NS_DIR" "$BIN" director real del --vip "$HA:$TCP_PORT" --proto tcp --real "$gone_ip"
	before=$(count_of "$gone")
	curl_many "$HA" "$N_STICK" "$WORK/$FAM.del"
	n_stay=$(grep -c "name=$stay token=$TOKEN local=$VA " "$WORK/$FAM.del")
	after=$(count_of "$gone")
	if [[ -z $SETUP_ERR && $n_stay == "$N_STICK" && $before == "$after" ]]; then
		pass "$FAM-real-del"
	else
		fail "$FAM-real-del" "after deleting $gone ($gone_ip): want all $N_STICK answers from $stay and $gone's count unchanged ($before); got $n_stay from $stay, $gone's count $after ${SETUP_ERR:-}"
	fi
	SETUP_ERR=

	# --- IPIP mode
	curl_many "$HB" 20 "$WORK/$FAM.ipip"
	n=$(grep -c "token=$TOKEN local=$VB client=$CLI " "$WORK/$FAM.ipip")
	if ((n == 20)); then
		pass "$FAM-ipip-tcp"
	else
		fail "$FAM-ipip-tcp" "want 20 answers from $VB over the tunnel; got $n: $(squash <"$WORK/$FAM.ipip.err")"
	fi
	out=$(printf 'ping\n' | nsx "$NS_CLI" socat -T 5 - "$SOC:$HB:$UDP_PORT" 2>&1)
	if [[ $out =~ ^l3dsr-director\ name=rs[12]\ token=$TOKEN\ local=$VB\ client=$CLI\  ]]; then
		pass "$FAM-ipip-udp"
	else
		fail "$FAM-ipip-udp" "want one answer from $VB over the tunnel; got '$(squash <<<"$out")'"
	fi
done

# --- IPIP on the wire
for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then
		enc="ip and proto 4" plain="ip and dst host $VIPB4" inner="$VIPB4"
	else
		enc="ip6 and ip6 proto 41" plain="ip6 and dst host $VIPB6" inner="$VIPB6"
	fi
	ne=0 np=0 shown=
	for n in 1 2; do
		ne=$((ne + $(tcpdump -n -r "$WORK/rs$n.pcap" "$enc" 2>/dev/null | wc -l)))
		np=$((np + $(tcpdump -n -r "$WORK/rs$n.pcap" "$plain" 2>/dev/null | wc -l)))
		shown+=$(tcpdump -n -r "$WORK/rs$n.pcap" "$enc" 2>/dev/null | head -n 1)
	done
	if ((ne > 0 && np == 0)) && [[ $shown == *"> $inner"* || $shown == *"> $inner."* ]]; then
		pass "$FAM-ipip-encap"
	else
		fail "$FAM-ipip-encap" "want encapsulated packets with inner destination $inner on the real servers' links and none unencapsulated; got $ne encapsulated, $np plain; first: $(squash <<<"$shown")"
	fi
done

# --- show
out=$(nsx "$NS_DIR" "$BIN" director show 2>&1)
rc=$?
want=(
	"TCP +$VIPA4:$TCP_PORT +dscp +$DSCP4 +wlc"
	"UDP +\[$VIPA6\]:$UDP_PORT +dscp +$DSCP6 +wlc"
	"TCP +$VIPB4:$TCP_PORT +ipip +- +wlc"
	"-> +\[$RS1_6\]:$UDP_PORT +tunnel +100"
	"-> +$RS2_4:$UDP_PORT +masq +100"
)
miss=$(missing "$out" "${want[@]}")
if ((rc == 0)) && [[ -z $miss ]]; then
	pass show
else
	fail show "exit $rc (want 0), missing lines $miss in: $(squash <<<"$out")"
fi

FOREIGN_AFTER=$(foreign_state)

for v in "$VIPA4" "[$VIPA6]" "$VIPB4" "[$VIPB6]"; do
	for p in "tcp:$TCP_PORT" "udp:$UDP_PORT"; do
		step nsx "$NS_DIR" "$BIN" director service del --vip "$v:${p#*:}" --proto "${p%%:*}"
	done
done
left=$( {
	nsx "$NS_DIR" "$BIN" director show -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["services"]), "services")'
	nsx "$NS_DIR" nft list table inet l3dsr 2>/dev/null && echo "table inet l3dsr left"
	ip -n "$NS_DIR" -o addr show dev lo | grep -v -e ' 127.0.0.1/' -e ' ::1/'
} 2>&1 | squash)
if [[ -z $SETUP_ERR && $left == "0 services" ]]; then
	pass teardown
else
	fail teardown "want no service, no table inet l3dsr, no VIP on lo; got '$left' ${SETUP_ERR:-}"
fi
FOREIGN_END=$(foreign_state)

nft_only() { sed -n '/^table /,$p' <<<"$1" | grep -v -e '^\*' -e '^:' -e '^-A' -e '^COMMIT'; }
ipt_only() { grep -e '^\*' -e '^:' -e '^-A' -e '^COMMIT' <<<"$1" | sed 's/\[[0-9]*:[0-9]*\]//'; }
if [[ $(nft_only "$FOREIGN_BEFORE") == "$(nft_only "$FOREIGN_AFTER")" && $(nft_only "$FOREIGN_BEFORE") == "$(nft_only "$FOREIGN_END")" ]] &&
	grep -q 'table inet other' <<<"$FOREIGN_BEFORE"; then
	pass coexist-nft
else
	fail coexist-nft "foreign nft tables changed: $(diff <(nft_only "$FOREIGN_BEFORE") <(nft_only "$FOREIGN_END") | head -n 6 | squash) / $(diff <(nft_only "$FOREIGN_BEFORE") <(nft_only "$FOREIGN_AFTER") | head -n 6 | squash)"
fi
if [[ $(ipt_only "$FOREIGN_BEFORE") == "$(ipt_only "$FOREIGN_AFTER")" && $(ipt_only "$FOREIGN_BEFORE") == "$(ipt_only "$FOREIGN_END")" ]] &&
	grep -q -- '-A PREROUTING -d 192.0.2.201/32 -j ACCEPT' <<<"$FOREIGN_BEFORE"; then
	pass coexist-iptables
else
	fail coexist-iptables "iptables rules changed: $(diff <(ipt_only "$FOREIGN_BEFORE") <(ipt_only "$FOREIGN_END") | head -n 6 | squash)"
fi
exit 0
