# shellcheck shell=bash
# addr_mode: L3 DSR that leaves DSCP to the network (issue 22). In addr mode the director IPVS-NATs
# a VIP's packets to an address of the real server's that stands for the VIP (its RIP here) and
# marks nothing; the real server's any-DSCP entry keyed by that address puts the VIP back, so the
# client's DSCP and ECN arrive as they were sent. Beside it: dscp and ipip VIPs on the same server,
# a router that bleaches DSCP, the DSCP reset after the rewrite, the ingress limit, the table at
# scale and bad input.
#
#   client ── router ── director   (l3dsr director service/real add)
#               └────── rs1        (l3dsr realserver up: addr, dscp and ipip VIPs)
#   (tests/lib/topo.sh, IPv4 and IPv6; the scale cases use a pair of namespaces of their own)
#
# VIP_A (10.0.0.5, 2001:db8:80::5): addr mode, RIP 203.0.113.20 / 2001:db8:e1::105 on rs1's eth0.
# VIP_D (10.0.0.6, 2001:db8:80::6): dscp mode, DSCP 21 / 22. VIP_I (10.0.0.7, 2001:db8:80::7):
# ipip mode. rs1 runs addr_mode.d/tos.py, whose UDP answers carry the TOS (traffic class) its
# socket received (IP_RECVTOS / IPV6_RECVTCLASS).
#
# Cases (FAM = ipv4 | ipv6):
#   setup                  every l3dsr command succeeded
#   FAM-udp-tos            5 datagrams sent with DSCP 34 (AF41) and ECT(0) (TOS 0x8a) to VIP_A:7
#                          through the director: 5 answers from VIP_A, each saying the server's
#                          socket received TOS 0x8a
#   FAM-counter            VIP_A's any-DSCP entry counted exactly those 5 packets
#   FAM-tcp                a TCP connection with DSCP 34 to VIP_A:80 is answered from VIP_A, and on
#                          rs1 the input hook (after the rewrite) counted packets to VIP_A with DSCP
#                          34
#   FAM-conntrack          rs1's conntrack holds client↔VIP_A, nothing with the RIP; INVALID 0
#   FAM-mixed              VIP_D (dscp) and VIP_I (ipip) on the same server answer from their VIP
#   clash                  `rule add` of (DSCP 21, local RIP_A) beside VIP_A's any-DSCP entry warns,
#                          and the documented order holds: DSCP 21 to RIP_A counts on the coded
#                          entry, DSCP 34 on the any-DSCP one, each exactly
#   FAM-bleach-dscp        with the router bleaching DSCP (nft dscp set 0 towards rs1): VIP_D gets
#                          no answer (dscp mode breaks: this is what the test can fail on)
#   bleach-verify          `l3dsr verify` on rs1 then fails, saying packets reach it unmarked
#   verify-addr            `l3dsr verify --mode addr` on rs1 passes: requests to RIP_A with any
#                          DSCP, answered from VIP_A
#   FAM-bleach-addr        on the same router, VIP_A still answers (TOS 0x02: DSCP bleached, ECN kept)
#   FAM-reset              with net.ipv4.tcp_reflect_tos=1, VIP_D's SYN-ACK leaves rs1 with the DSR
#                          code, and with DSCP 0 after `realserver up ... --set-dscp 0` on the VIP
#                          that is up (its entry changed in place; tcpdump on the router's link)
#   ingress                with `--ingress eth0`, DSCP 21 packets to the RIP arriving on a second
#                          interface (eth1) are not rewritten (VIP_D's entry does not move, exactly),
#                          the same packets on eth0 are (+N exactly)
#   scale-ipv4, scale-ipv6 200 IPv4 and AM_N6 IPv6 VIPs (1,024 in make test, 4,096 in make
#                          vmtest-scale: tests/scale/addr_mode_4096.sh), each keyed by its own
#                          address (one /64 for IPv6), 3 datagrams to each address: every entry
#                          counts exactly 3
#   save-director, save-realserver
#                          `l3dsr save` writes mode addr (and the rip), and `apply --dry-run` of
#                          that file plans no change
#   bad-*                  --dscp with --mode addr (director and real server), an any-DSCP entry
#                          without a local address, a --rip that is the server's primary address,
#                          an unknown ingress interface: exit 2, the error names the value, nothing
#                          changed

set -u

topo_init a- 46 1
VA4=10.0.0.5 VA6=2001:db8:80::5 RA4=203.0.113.20 RA6=2001:db8:e1::105
VD4=10.0.0.6 VD6=2001:db8:80::6 DD4=21 DD6=22
VI4=10.0.0.7 VI6=2001:db8:80::7
TOS=0x8a

TOKEN=l3dsr-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 16)
WORK=$PWD
TOSPY=$L3DSR_SRC/tests/scenarios/addr_mode.d/tos.py
BIN=$L3DSR_BIN
SETUP_ERR=
BG_PIDS=()
on_exit teardown_all
on_exit 'ns_del a-sx a-sr a-side'

rs() { nsx "$NS_RS" "$BIN" "$@"; }
dir() { nsx "$NS_DIR" "$BIN" "$@"; }

director_setup() {
	local v p
	# VIP REAL MODE [--dscp N]
	for v in "$VA4 $RA4 addr" "[$VA6] $RA6 addr" "$VD4 $RIP4 dscp --dscp $DD4" \
		"[$VD6] $RIP6 dscp --dscp $DD6" "$VI4 $RIP4 ipip" "[$VI6] $RIP6 ipip"; do
		# shellcheck disable=SC2086
		set -- $v
		for p in tcp:80 udp:7; do
			step dir director service add --vip "$1:${p#*:}" --proto "${p%%:*}" --mode "$3" "${@:4}" || return 1
			step dir director real add --vip "$1:${p#*:}" --proto "${p%%:*}" --real "$2" || return 1
		done
	done
}

realserver_setup() {
	step rs realserver up --mode addr --vip "$VA4" --rip "$RA4" || return 1
	step rs realserver up --mode addr --vip "$VA6" --rip "$RA6" || return 1
	step rs realserver up --vip "$VD4" --dscp "$DD4" || return 1
	step rs realserver up --vip "$VD6" --dscp "$DD6" || return 1
	step rs realserver up --vip "$VI4" --mode ipip || return 1
	step rs realserver up --vip "$VI6" --mode ipip
}

# Observers on rs1 after the rewrite (input hook): conntrack's INVALID, and AF41 packets per VIP.
observers() {
	nsx "$NS_RS" nft -f - <<-EOF
		table inet obs {
			counter invalid {}
			counter af41v4 {}
			counter af41v6 {}
			chain in {
				type filter hook input priority 0; policy accept;
				ct state invalid counter name invalid
				ip daddr $VA4 ip dscp af41 counter name af41v4
				ip6 daddr $VA6 ip6 dscp af41 counter name af41v6
			}
		}
	EOF
}
nft_count() { nsx "$NS_RS" nft list counter inet obs "$1" | awk '/packets/ {print $2}'; }

# entry_packets NS VIP LOCAL: the packets of the entry mapping LOCAL ("any" for none) to VIP.
entry_packets() {
	nsx "$1" "$BIN" rule list -o json 2>&1 | python3 -c '
import json, sys
n = [e["packets"] for e in json.load(sys.stdin) if e["vip"] == sys.argv[1] and str(e.get("local") or "any") == sys.argv[2]]
print(n[0] if len(n) == 1 else "entries:%d" % len(n))' "$2" "$3" 2>&1
}

# udp_tos CASE HOST VIP WANT_TOS N: N datagrams with TOS from the client, all answered from VIP
# with the TOS the server's socket saw.
udp_tos() {
	local out good
	out=$(nsx "$NS_CLI" python3 "$TOSPY" udp "$2" "$TOS" "$5" 2>&1)
	good=$(grep -c "^from=$3 l3dsr-addr name=rs1 token=$TOKEN local=$3 tos=$4\$" <<<"$out")
	if [[ $good == "$5" ]]; then
		pass "$1"
	else
		fail "$1" "want $5 answers from $3 with tos=$4; got $good: $(squash <<<"$out")"
	fi
}

ALL_CASES=(setup clash bleach-verify verify-addr ingress save-director save-realserver scale-ipv4 scale-ipv6 bad-director-dscp bad-realserver-dscp
	bad-any-nolocal bad-rip-primary bad-ingress)
for f in ipv4 ipv6; do
	for c in udp-tos counter tcp conntrack mixed bleach-dscp bleach-addr reset; do ALL_CASES+=("$f-$c"); done
done

modprobe -a ip_vs ip_vs_wlc ipip ip6_tunnel nf_conntrack 2>>"$WORK/setup.log" || true
step topo_up
[[ -n $SETUP_ERR ]] || step nsx "$NS_CLI" sysctl -q -w net.ipv4.tcp_ecn=1
director_setup
realserver_setup
[[ -n $SETUP_ERR ]] || step observers
[[ -n $SETUP_ERR ]] || rs_servers_start "$TOSPY" "$VA4" "$VA6" "$VD4" "$VD6" "$VI4" "$VI6"
if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup

# --- addr mode end to end, and its neighbours on the same server
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then
		VA=$VA4 RA=$RA4 VD=$VD4 VI=$VI4 CLI=$CLI4 F=4
	else
		VA=$VA6 RA=$RA6 VD=$VD6 VI=$VI6 CLI=$CLI6 F=6
	fi
	before=$(entry_packets "$NS_RS" "$VA" "$RA")
	udp_tos "$FAM-udp-tos" "$VA" "$VA" "$TOS" 5
	after=$(entry_packets "$NS_RS" "$VA" "$RA")
	if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after - before == 5)); then
		pass "$FAM-counter"
	else
		fail "$FAM-counter" "want VIP $VA's any-DSCP entry (local $RA) +5 packets; got '$before' then '$after'"
	fi

	a0=$(nft_count "af41v$F")
	out=$(nsx "$NS_CLI" python3 "$TOSPY" tcp "$VA" "$TOS" 2>&1)
	a1=$(nft_count "af41v$F")
	if [[ $out == "from=$VA l3dsr-addr name=rs1 token=$TOKEN local=$VA tcp" && $a0 =~ ^[0-9]+$ && $a1 =~ ^[0-9]+$ ]] &&
		((a1 > a0)); then
		pass "$FAM-tcp"
	else
		fail "$FAM-tcp" "want the answer from $VA and AF41 packets to $VA counted after the rewrite; got '$(squash <<<"$out")', counter $a0 -> $a1"
	fi

	ct=$(nsx "$NS_RS" conntrack -L -f "$FAM" -p tcp --dport 80 2>/dev/null)
	inv=$(nft_count invalid)
	if grep -q "src=$CLI dst=$VA " <<<"$ct" && ! grep -q "=$RA " <<<"$ct" && [[ $inv == 0 ]]; then
		pass "$FAM-conntrack"
	else
		fail "$FAM-conntrack" "want client $CLI ↔ $VA in conntrack, nothing with $RA, INVALID 0; got INVALID '$inv', $(squash <<<"$ct")"
	fi

	outd=$(nsx "$NS_CLI" python3 "$TOSPY" udp "$VD" 0 1 2>&1)
	outi=$(nsx "$NS_CLI" python3 "$TOSPY" udp "$VI" 0 1 2>&1)
	if [[ $outd == "from=$VD l3dsr-addr name=rs1 token=$TOKEN local=$VD tos="* &&
		$outi == "from=$VI l3dsr-addr name=rs1 token=$TOKEN local=$VI tos="* ]]; then
		pass "$FAM-mixed"
	else
		fail "$FAM-mixed" "want answers from $VD (dscp) and $VI (ipip); got '$(squash <<<"$outd")' and '$(squash <<<"$outi")'"
	fi
done

# --- a key clash follows the documented order: (DSCP, local) before (any DSCP, local)
spray_from_router() { # FILE TOS N
	nsx "$NS_RTR" python3 "$TOSPY" spray "$1" "$2" "$3" 2>&1
}
echo "$RA4" >"$WORK/ra4"
out=$(rs rule add --dscp 21 --local "$RA4" --vip 10.0.0.9 2>&1)
rc=$?
c0=$(entry_packets "$NS_RS" 10.0.0.9 "$RA4") a0=$(entry_packets "$NS_RS" "$VA4" "$RA4")
spray_from_router "$WORK/ra4" $((21 << 2)) 3 >/dev/null
c1=$(entry_packets "$NS_RS" 10.0.0.9 "$RA4") a1=$(entry_packets "$NS_RS" "$VA4" "$RA4")
spray_from_router "$WORK/ra4" $((34 << 2)) 4 >/dev/null
c2=$(entry_packets "$NS_RS" 10.0.0.9 "$RA4") a2=$(entry_packets "$NS_RS" "$VA4" "$RA4")
rs rule del --dscp 21 --local "$RA4" >/dev/null 2>&1
if ((rc == 0)) && grep -qi "warning" <<<"$out" && [[ "$c0 $c1 $c2 $a0 $a1 $a2" =~ ^[0-9\ ]+$ ]] &&
	((c1 - c0 == 3 && c2 == c1 && a1 == a0 && a2 - a1 == 4)); then
	pass clash
else
	fail clash "want exit 0 with a warning, DSCP 21 → the coded entry (+3), DSCP 34 → the any-DSCP entry (+4); got exit $rc '$(squash <<<"$out")', coded $c0/$c1/$c2, any $a0/$a1/$a2"
fi

# --- a router that bleaches DSCP on its way to rs1
step nsx "$NS_RTR" nft -f - <<-EOF
	table inet bleach {
		chain bleacher {
			type filter hook forward priority 0; policy accept;
			oifname "$RTR_IF_RS" ip dscp set 0
			oifname "$RTR_IF_RS" ip6 dscp set 0
		}
	}
EOF
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then VA=$VA4 VD=$VD4; else VA=$VA6 VD=$VD6; fi
	out=$(nsx "$NS_CLI" python3 "$TOSPY" udp "$VD" 0 2 2>&1)
	if [[ -z $SETUP_ERR && $out == $'timeout\ntimeout' ]]; then
		pass "$FAM-bleach-dscp"
	else
		fail "$FAM-bleach-dscp" "want no answer from $VD (dscp mode, codes bleached) ${SETUP_ERR:-}; got $(squash <<<"$out")"
	fi
	udp_tos "$FAM-bleach-addr" "$VA" "$VA" 0x02 3
done
nsx "$NS_RS" "$BIN" verify --role realserver --iface eth0 --dscp "$DD4" --port 7 --duration 8s >"$WORK/verify.out" 2>&1 &
vpid=$!
sleep 2
for i in 1 2 3; do nsx "$NS_CLI" python3 "$TOSPY" udp "$VD4" 0 1 >/dev/null 2>&1; done
wait "$vpid"
vrc=$?
if ((vrc == 1)) && grep -qi "unmarked" "$WORK/verify.out"; then
	pass bleach-verify
else
	fail bleach-verify "want verify to exit 1 saying packets reach the server unmarked; got exit $vrc: $(tail -n 6 "$WORK/verify.out" | squash)"
fi
# verify in addr mode, on the same bleaching path: requests to the RIP with any DSCP, answered
# from the VIP.
nsx "$NS_RS" "$BIN" verify --mode addr --iface eth0 --duration 8s >"$WORK/verify-addr.out" 2>&1 &
vpid=$!
sleep 2
for i in 1 2 3; do nsx "$NS_CLI" python3 "$TOSPY" udp "$VA4" "$TOS" 1 >/dev/null 2>&1; done
wait "$vpid"
vrc=$?
if ((vrc == 0)) && grep -q "verdict: OK" "$WORK/verify-addr.out" && grep -q "$RA4" "$WORK/verify-addr.out"; then
	pass verify-addr
else
	fail verify-addr "want verify --mode addr to exit 0 with an OK verdict naming RIP $RA4; got exit $vrc: $(tail -n 6 "$WORK/verify-addr.out" | squash)"
fi
nsx "$NS_RTR" nft delete table inet bleach

# --- the DSCP reset after the rewrite, seen at the router
# synack_dscp FAM VD: the DSCP of the SYN-ACK from VD, as tcpdump on the router prints it.
synack_dscp() {
	local cap=$WORK/synack.$1 filt p
	if [[ $1 == ipv4 ]]; then
		filt="src host $2 and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"
	else
		filt="ip6 and src host $2 and ip6[53] & 0x12 == 0x12"
	fi
	ip netns exec "$NS_RTR" timeout 15 tcpdump -l -c 1 -n -v -i "$RTR_IF_RS" "$filt" >"$cap" 2>"$cap.err" &
	p=$!
	wait_for 10 grep -q listening "$cap.err"
	nsx "$NS_CLI" python3 "$TOSPY" tcp "$2" 0 >/dev/null 2>&1
	wait "$p"
	# tcpdump -v leaves an IPv6 traffic class of 0 out ("IP6 (flowlabel ..., hlim ...").
	python3 -c '
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"(?:tos|class) (0x[0-9a-f]+)", t)
print(int(m.group(1), 16) >> 2 if m else 0 if "IP6 (" in t else "none")' "$cap"
}
step nsx "$NS_RS" sysctl -q -w net.ipv4.tcp_reflect_tos=1
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then VD=$VD4 DD=$DD4; else VD=$VD6 DD=$DD6; fi
	d1=$(synack_dscp "$FAM" "$VD")
	step rs realserver up --vip "$VD" --dscp "$DD" --set-dscp 0
	d2=$(synack_dscp "$FAM" "$VD")
	if [[ -z $SETUP_ERR && $d1 == "$DD" && $d2 == 0 ]]; then
		pass "$FAM-reset"
	else
		fail "$FAM-reset" "want the SYN-ACK's DSCP $DD without the reset and 0 with it ${SETUP_ERR:-}; got $d1 and $d2"
	fi
	SETUP_ERR=
done
nsx "$NS_RS" sysctl -q -w net.ipv4.tcp_reflect_tos=0

# --- ingress: a second link into rs1, from a host that is not the router
ingress_case() {
	local e0 e1 e2
	ip netns add a-side || return 1
	ip link add eth1 netns "$NS_RS" type veth peer name c0 netns a-side || return 1
	ip -n a-side addr add 198.18.0.2/24 dev c0 && ip -n a-side link set c0 up && ip -n a-side link set lo up &&
		ip -n "$NS_RS" addr add 198.18.0.1/24 dev eth1 && ip -n "$NS_RS" link set eth1 up &&
		ip -n a-side route add "$RIP4/32" via 198.18.0.1 || return 1
	rs realserver up --vip "$VD4" --dscp "$DD4" --ingress eth0 >"$WORK/ingress.out" 2>&1 || return 1
	echo "$RIP4" >"$WORK/rip4"
	e0=$(entry_packets "$NS_RS" "$VD4" any)
	nsx a-side python3 "$TOSPY" spray "$WORK/rip4" $((DD4 << 2)) 5 >/dev/null
	e1=$(entry_packets "$NS_RS" "$VD4" any)
	spray_from_router "$WORK/rip4" $((DD4 << 2)) 6 >/dev/null
	e2=$(entry_packets "$NS_RS" "$VD4" any)
	echo "$e0 $e1 $e2"
}
res=$(ingress_case 2>&1)
if [[ $res =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] && ((BASH_REMATCH[2] == BASH_REMATCH[1] &&
	BASH_REMATCH[3] - BASH_REMATCH[2] == 6)); then
	pass ingress
else
	fail ingress "want VIP $VD4's entry +0 for 5 coded packets on eth1 and +6 for 6 on eth0; got '$(squash <<<"$res")' $(squash <"$WORK/ingress.out")"
fi

# --- save then apply: the file says addr mode (director and real server) and rebuilds the same
save_apply() { # NS NAME
	local out
	nsx "$1" "$BIN" save >"$WORK/$2.conf" 2>&1 || { echo "save: $(squash <"$WORK/$2.conf")"; return 1; }
	grep -q "mode: addr" "$WORK/$2.conf" || { echo "no 'mode: addr' in $(squash <"$WORK/$2.conf")"; return 1; }
	out=$(nsx "$1" "$BIN" apply --dry-run -f "$WORK/$2.conf" 2>&1) || { echo "apply --dry-run: $(squash <<<"$out")"; return 1; }
	grep -qi "no change" <<<"$out" || { echo "apply --dry-run plans changes: $(squash <<<"$out")"; return 1; }
}
for h in "$NS_DIR director" "$NS_RS realserver"; do
	# shellcheck disable=SC2086
	res=$(save_apply $h 2>&1) && pass "save-${h#* }" || fail "save-${h#* }" "$res"
done

# --- bad input: exit 2, the value named, nothing changed
state() {
	{
		nsx "$NS_DIR" ipvsadm -Sn
		nsx "$NS_DIR" nft list ruleset
		nsx "$NS_RS" nft list ruleset
		rs rule list -o json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["dscp"], e["local"], e["vip"], e.get("set_dscp"))'
		ip -n "$NS_RS" -o addr
		nsx "$NS_RS" iptables-save -t raw | grep -v '^[#:]'
		nsx "$NS_RS" ip6tables-save -t raw | grep -v '^[#:]'
	} 2>&1 | sed -E 's/packets [0-9]+ bytes [0-9]+//'
}
bad() { # CASE WANT_TEXT NS CMD...
	local c=$1 want=$2 n=$3 s0 s1 out rc
	shift 3
	s0=$(state)
	out=$(nsx "$n" "$BIN" "$@" 2>&1)
	rc=$?
	s1=$(state)
	if ((rc == 2)) && grep -qF -- "$want" <<<"$out" && [[ $s0 == "$s1" ]]; then
		pass "$c"
	else
		fail "$c" "want exit 2 naming '$want' and nothing changed; got exit $rc: $(squash <<<"$out"); diff: $(diff <(echo "$s0") <(echo "$s1") | head -n 4 | squash)"
	fi
}
bad bad-director-dscp "addr mode" "$NS_DIR" director service add --vip 10.0.0.8:80 --proto tcp --mode addr --dscp 5
bad bad-realserver-dscp "addr mode" "$NS_RS" realserver up --mode addr --vip 10.0.0.8 --rip 203.0.113.21 --dscp 5
bad bad-any-nolocal "--local" "$NS_RS" rule add --dscp any --vip 10.0.0.9
bad bad-rip-primary "$RIP4" "$NS_RS" realserver up --mode addr --vip 10.0.0.8 --rip "$RIP4"
bad bad-ingress "nosuch0" "$NS_RS" realserver up --vip "$VD4" --dscp "$DD4" --ingress nosuch0

# --- scale: one receiver, 200 IPv4 and AM_N6 IPv6 VIPs each keyed by its own address
AM_N6=${AM_N6:-1024}
scale() {
	local i
	ns_pair a-sx a-sr 10.9.0.1/24 2001:db8:9::1/64 || return 1
	{
		echo "addr add 10.9.0.2/24 dev r0"
		echo "addr add 2001:db8:9::2/64 dev r0 nodad"
		for ((i = 1; i <= 200; i++)); do echo "addr add 100.64.$((i / 250)).$((i % 250 + 1))/32 dev r0"; done
		for ((i = 1; i <= AM_N6; i++)); do printf 'addr add 2001:db8:f::1:%x/128 dev r0 nodad\n' "$i"; done
	} >"$WORK/scale.batch"
	# 4,296 addresses (vmtest-scale) take longer than topo.sh's 20 s on a slow emulated host.
	timeout 300 ip -n a-sr -batch "$WORK/scale.batch" || return 1
	ip -n a-sx route add 100.64.0.0/16 via 10.9.0.2 && ip -n a-sx -6 route add 2001:db8:f::/64 via 2001:db8:9::2 || return 1
	nsx a-sr iptables -t raw -A PREROUTING -j DADDR --map && nsx a-sr ip6tables -t raw -A PREROUTING -j DADDR --map || return 1
	python3 - "$WORK" "$AM_N6" <<-'PY' || return 1
		import json, sys
		w = sys.argv[1]
		v4 = ["100.64.%d.%d" % (i // 250, i % 250 + 1) for i in range(1, 201)]
		v6 = ["2001:db8:f::1:%x" % i for i in range(1, int(sys.argv[2]) + 1)]
		e = [{"family": "ipv4", "dscp": "any", "local": a, "vip": "10.200.%d.%d" % (i // 250, i % 250 + 1)} for i, a in enumerate(v4, 1)]
		e += [{"family": "ipv6", "dscp": "any", "local": a, "vip": "2001:db8:80:1::%x" % i} for i, a in enumerate(v6, 1)]
		json.dump(e, open(w + "/scale.json", "w"))
		open(w + "/scale4", "w").write("\n".join(v4) + "\n")
		open(w + "/scale6", "w").write("\n".join(v6) + "\n")
	PY
	nsx a-sr "$BIN" rule replace -f "$WORK/scale.json" || return 1
	NSX_TIMEOUT=300 nsx a-sx python3 "$TOSPY" spray "$WORK/scale4" $((34 << 2)) 3 || return 1
	NSX_TIMEOUT=600 nsx a-sx python3 "$TOSPY" spray "$WORK/scale6" $((46 << 2)) 3 || return 1
	sleep 1
	nsx a-sr "$BIN" rule list -o json >"$WORK/scale.out" || return 1
}
scale >"$WORK/scale.log" 2>&1
serr=$?
for f in 4 6; do
	want=200
	((f == 4)) || want=$AM_N6
	res=$(python3 -c '
import ipaddress, json, sys
e = [x for x in json.load(open(sys.argv[1])) if ipaddress.ip_address(x["vip"]).version == int(sys.argv[2])]
bad = [x for x in e if x["packets"] != 3 or str(x["dscp"]) != "any"]
print(len(e), len(bad), bad[:2])' "$WORK/scale.out" "$f" 2>&1)
	if ((serr == 0)) && [[ $res == "$want 0 []" ]]; then
		pass "scale-ipv$f"
	else
		fail "scale-ipv$f" "want $want any-DSCP entries each with exactly 3 packets; got '$res' (setup exit $serr: $(tail -n 3 "$WORK/scale.log" | squash))"
	fi
done
exit 0
