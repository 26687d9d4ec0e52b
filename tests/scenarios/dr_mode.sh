# shellcheck shell=bash
# dr_mode: L2 DSR (LVS-DR, `--mode dr`) on both sides, set up by `l3dsr` alone, next to the L3
# modes on the same real servers (issue 23).
#
#              198.51.100.0/24                  192.0.2.0/24, 2001:db8:d::/64 (one L2 segment)
#   client .10 eth0 ──── r-cli  router  br-lan ─┬── eth0 .20 director
#   2001:db8:c::10/64               (a bridge)  ├── eth0 .31 rs1
#                                               └── eth0 .32 rs2
#
# The real servers share the director's link (tests/lib/topo.sh gives each real server a link
# of its own, behind the router, where direct routing cannot reach: this scenario builds its
# own network). The router holds .1 (::1) on the bridge and routes the VIPs, 10.0.0.0/8 and
# 2001:db8:80::/48, to the director; every host has a default route to the router.
#
# Each real server holds three VIPs, one per mode, and runs director.d/server.py on all of them:
#   VIP1 10.0.0.1, 2001:db8:80::1   dscp (DSCP 21 / 22)
#   VIP2 10.0.0.2, 2001:db8:80::2   ipip
#   VIP3 10.0.0.3, 2001:db8:80::3   dr
# The IPv6 dr VIP is announced on the link by the director with a proxy neighbour entry (an
# address on lo answers no solicitation; see docs/director.md), the one thing of the
# director's set up without l3dsr.
#
# Cases (FAM = ipv4 | ipv6):
#   setup               every command of the setup succeeded (else all cases fail with it)
#   show                `director show` lists the dr services with mode dr and their reals with
#                       forwarding method route; `realserver show` lists the three modes, ok
#   FAM-dr              40 requests (40 connections) to VIP3:80 all answered from VIP3 to the
#                       client, by both real servers
#   FAM-dr-path         on the director's link, requests for VIP3 left the director to the real
#                       servers' MAC addresses, and no packet from VIP3 passed (no reply goes
#                       through the director)
#   FAM-neigh           an ARP request (IPv4) / neighbour solicitation (IPv6) for VIP3 from the
#                       router gets answers from the director's MAC only (dr_mode.d/neigh.py,
#                       with scapy: every answer, not only the first)
#   FAM-mixed-dscp, FAM-mixed-ipip
#                       VIP1 (dscp) and VIP2 (ipip) on the same real servers as VIP3: 20
#                       requests each, all answered from the VIP asked, by both real servers
#   FAM-refuse          `director real add` of a real server on no subnet of the director to
#                       the dr service: exit 2, the message names the real and the director's
#                       subnets, and `director show -o json` is unchanged
#   rs-refuse           `realserver up --mode dr --dscp 7`: exit 2, the message names DSCP 7,
#                       and nothing on the real server changed
#   save-apply          `save` then `apply -f` of it, on the director and on rs1: "no change"
#   teardown            `realserver down` of the dr VIPs takes exactly what up added (the VIP
#                       on lo; the ARP sysctls stay while the other VIPs need them), and the
#                       director's `service del` of the dr services leaves their VIPs off lo

set -u

# RS_NS and NS_ALL as topo_init sets them: dsrlab.sh's teardown_all and rs_servers_start read them.
NS_CLI=dr-client NS_RTR=dr-router NS_DIR=dr-director NS_RS1=dr-rs1 NS_RS2=dr-rs2
RS_NS=("$NS_RS1" "$NS_RS2")
NS_ALL=("$NS_CLI" "$NS_RTR" "$NS_DIR" "${RS_NS[@]}")
CLI4=198.51.100.10 RTR_C4=198.51.100.1 CLI6=2001:db8:c::10 RTR_C6=2001:db8:c::1
RTR4=192.0.2.1 DIR4=192.0.2.20 RS1_4=192.0.2.31 RS2_4=192.0.2.32
RTR6=2001:db8:d::1 DIR6=2001:db8:d::20 RS1_6=2001:db8:d::31 RS2_6=2001:db8:d::32
VIP1_4=10.0.0.1 VIP2_4=10.0.0.2 VIP3_4=10.0.0.3
VIP1_6=2001:db8:80::1 VIP2_6=2001:db8:80::2 VIP3_6=2001:db8:80::3
DSCP4=21 DSCP6=22
TCP_PORT=80 UDP_PORT=7
# On no subnet of the director: a real server behind the router.
FAR4=203.0.113.30 FAR6=2001:db8:e1::30
N_DR=40 N_MIX=20

TOKEN=l3dsr-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 16)
WORK=$PWD
HERE=$(dirname "$0")
BIN=$L3DSR_BIN

# step, teardown_all, rs_servers_start and curl_many: tests/lib/dsrlab.sh.
SETUP_ERR=
BG_PIDS=()
on_exit teardown_all

# ipb NS: ip -batch in NS ("" for the VM's own), commands on stdin.
ipb() {
	local out
	out=$(timeout 20 ip ${1:+-n "$1"} -batch - 2>&1) && return 0
	echo "ip ${1:+-n $1 }-batch failed: $(squash <<<"$out")"
	return 1
}

# host NS ADDR4 GW4 ADDR6 GW6 LL: eth0 up with its addresses (IPv6 without DAD, and a fixed
# link-local address of its own: the hosts share one link), default routes via the router.
host() {
	ipb "$1" <<-EOF
		link set eth0 addrgenmode none
		link set lo up
		link set eth0 up
		addr add $2/24 dev eth0
		route add default via $3
		addr add $6/64 dev eth0 nodad
		addr add $4/64 dev eth0 nodad
		route add ::/0 via $5
	EOF
}

topology() {
	{
		for n in "${NS_ALL[@]}"; do echo "netns add $n"; done
		echo "link add eth0 netns $NS_CLI type veth peer name r-cli netns $NS_RTR"
		echo "link add eth0 netns $NS_DIR type veth peer name r-dir netns $NS_RTR"
		echo "link add eth0 netns $NS_RS1 type veth peer name r-rs1 netns $NS_RTR"
		echo "link add eth0 netns $NS_RS2 type veth peer name r-rs2 netns $NS_RTR"
	} | ipb "" || return 1
	# Loose reverse-path filter: replies from a VIP arrive from a real server while the route to
	# the VIP points at the director (the same link here, but not the same next hop).
	nsx "$NS_RTR" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=2 || return 1
	# No STP (the ports forward at once) and no multicast snooping (solicitations reach every
	# port, as on a plain switch with no MLD querier).
	ipb "$NS_RTR" <<-EOF || return 1
		link set lo up
		link add br-lan type bridge forward_delay 0 stp_state 0 mcast_snooping 0
		link set br-lan addrgenmode none
		link set r-cli addrgenmode none
		link set r-dir addrgenmode none
		link set r-rs1 addrgenmode none
		link set r-rs2 addrgenmode none
		link set r-dir master br-lan
		link set r-rs1 master br-lan
		link set r-rs2 master br-lan
		link set r-cli up
		link set r-dir up
		link set r-rs1 up
		link set r-rs2 up
		link set br-lan up
		addr add fe80::1/64 dev r-cli nodad
		addr add fe80::1/64 dev br-lan nodad
		addr add $RTR_C4/24 dev r-cli
		addr add $RTR_C6/64 dev r-cli nodad
		addr add $RTR4/24 dev br-lan
		addr add $RTR6/64 dev br-lan nodad
		route add 10.0.0.0/8 via $DIR4
		route add 2001:db8:80::/48 via $DIR6
	EOF
	host "$NS_CLI" "$CLI4" "$RTR_C4" "$CLI6" "$RTR_C6" fe80::10 || return 1
	host "$NS_DIR" "$DIR4" "$RTR4" "$DIR6" "$RTR6" fe80::20 || return 1
	host "$NS_RS1" "$RS1_4" "$RTR4" "$RS1_6" "$RTR6" fe80::31 || return 1
	host "$NS_RS2" "$RS2_4" "$RTR4" "$RS2_6" "$RTR6" fe80::32 || return 1
	# The bridge forwards on its three ports before anything else runs.
	wait_for 10 bridge_ready || { echo "bridge ports not forwarding: $(bridge -n "$NS_RTR" link show | squash)"; return 1; }
}

# shellcheck disable=SC2317 # run by wait_for
bridge_ready() { (($(bridge -n "$NS_RTR" link show | grep -c 'master br-lan state forwarding') == 3)); }

# The director's whole setup: what an operator would type. The IPv6 services also make l3dsr
# turn IPv6 forwarding on, which the proxy neighbour entry needs.
director_setup() {
	local v l=()
	l+=("service add --vip $VIP1_4:$TCP_PORT --dscp $DSCP4 --scheduler rr")
	l+=("service add --vip [$VIP1_6]:$TCP_PORT --dscp $DSCP6 --scheduler rr")
	l+=("service add --vip $VIP2_4:$TCP_PORT --mode ipip --scheduler rr")
	l+=("service add --vip [$VIP2_6]:$TCP_PORT --mode ipip --scheduler rr")
	l+=("service add --vip $VIP3_4:$TCP_PORT --mode dr --scheduler rr")
	l+=("service add --vip [$VIP3_6]:$TCP_PORT --mode dr --scheduler rr")
	for v in "$VIP1_4" "$VIP2_4" "$VIP3_4"; do
		l+=("real add --vip $v:$TCP_PORT --real $RS1_4" "real add --vip $v:$TCP_PORT --real $RS2_4")
	done
	for v in "$VIP1_6" "$VIP2_6" "$VIP3_6"; do
		l+=("real add --vip [$v]:$TCP_PORT --real $RS1_6" "real add --vip [$v]:$TCP_PORT --real $RS2_6")
	done
	local c
	for c in "${l[@]}"; do
		# shellcheck disable=SC2086
		step nsx "$NS_DIR" "$BIN" director $c || return 1
	done
	step nsx "$NS_DIR" sysctl -q -w net.ipv6.conf.eth0.proxy_ndp=1 || return 1
	step ip -n "$NS_DIR" -6 neigh add proxy "$VIP3_6" dev eth0
}

realserver_setup() {
	local n
	for n in "$NS_RS1" "$NS_RS2"; do
		step nsx "$n" "$BIN" realserver up --vip "$VIP1_4" --dscp "$DSCP4" || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIP1_6" --dscp "$DSCP6" || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIP2_4" --mode ipip || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIP2_6" --mode ipip || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIP3_4" --mode dr || return 1
		step nsx "$n" "$BIN" realserver up --vip "$VIP3_6" --mode dr || return 1
	done
}

# curl_many (tests/lib/dsrlab.sh) takes its client ports from here on.
# shellcheck disable=SC2034 # read by curl_many
CLI_PORT=21000

# answered CASE FAM VIP URLHOST N: N requests to VIP, all answered from VIP to the client, by
# both real servers.
answered() {
	local c=$1 fam=$2 vip=$3 cli n_all n1 n2 f
	f="$WORK/$c"
	if [[ $fam == ipv4 ]]; then cli=$CLI4; else cli=$CLI6; fi
	curl_many "$4" "$5" "$f"
	n_all=$(grep -c "^l3dsr-director .*token=$TOKEN local=$vip client=$cli " "$f")
	n1=$(grep -c "name=rs1 token=$TOKEN local=$vip client=$cli " "$f")
	n2=$(grep -c "name=rs2 token=$TOKEN local=$vip client=$cli " "$f")
	if ((n_all == $5 && n1 > 0 && n2 > 0)); then
		pass "$c"
	else
		fail "$c" "want $5 answers from $vip to $cli by both real servers; got $n_all (rs1 $n1, rs2 $n2): $(tail -n 2 "$f" | squash) $(squash <"$f.err")"
	fi
}

mac_of() { ip netns exec "$1" cat /sys/class/net/eth0/address; }

# ---------------------------------------------------------------------------------------------
ALL_CASES=(setup show rs-refuse save-apply teardown)
for f in ipv4 ipv6; do
	for c in dr dr-path neigh mixed-dscp mixed-ipip refuse; do ALL_CASES+=("$f-$c"); done
done

log "modules"
modprobe -a ip_vs ip_vs_rr ipip ip6_tunnel bridge 2>>"$WORK/setup.log" || true
if ! out=$(topology 2>&1); then
	SETUP_ERR="topology: $(squash <<<"$out")"
fi
director_setup
realserver_setup
[[ -n $SETUP_ERR ]] || rs_servers_start "$HERE/director.d/server.py" "$TCP_PORT" "$UDP_PORT" \
	"$VIP1_4" "$VIP1_6" "$VIP2_4" "$VIP2_6" "$VIP3_4" "$VIP3_6"

if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup

DIR_MAC=$(mac_of "$NS_DIR") RS1_MAC=$(mac_of "$NS_RS1") RS2_MAC=$(mac_of "$NS_RS2")

# --- show
out=$(nsx "$NS_DIR" "$BIN" director show 2>&1)
rc=$?
want=(
	"TCP +$VIP3_4:$TCP_PORT +dr +- +rr"
	"TCP +\[$VIP3_6\]:$TCP_PORT +dr +- +rr"
	"-> +$RS1_4:$TCP_PORT +route +1 "
	"-> +\[$RS2_6\]:$TCP_PORT +route +1 "
	"TCP +$VIP1_4:$TCP_PORT +dscp +$DSCP4 +rr"
	"TCP +$VIP2_4:$TCP_PORT +ipip +- +rr"
)
miss=$(missing "$out" "${want[@]}")
rs_out=$(nsx "$NS_RS1" "$BIN" realserver show 2>&1)
rs_rc=$?
rs_want=(
	"^$VIP1_4 +dscp +$DSCP4 +any +- +ok"
	"^$VIP2_4 +ipip +- +- +[0-9]+ +ok"
	"^$VIP3_4 +dr +- +- +- +ok"
	"^$VIP3_6 +dr +- +- +- +ok"
)
rs_miss=$(missing "$rs_out" "${rs_want[@]}")
if ((rc == 0 && rs_rc == 0)) && [[ -z $miss && -z $rs_miss ]]; then
	pass show
else
	fail show "director show exit $rc, missing $miss in: $(squash <<<"$out") // realserver show exit $rs_rc (want 0), missing $rs_miss in: $(squash <<<"$rs_out")"
fi

# --- dr traffic, with a capture on the director's own link
ip netns exec "$NS_DIR" tcpdump -n -e -i eth0 -w "$WORK/dir.pcap" -U \
	"(ip and (host $VIP3_4)) or (ip6 and (host $VIP3_6))" >/dev/null 2>"$WORK/tcpdump.dir.err" &
CAP=$!
BG_PIDS+=("$CAP")
wait_for 10 grep -q listening "$WORK/tcpdump.dir.err"
answered ipv4-dr ipv4 "$VIP3_4" "$VIP3_4" "$N_DR"
answered ipv6-dr ipv6 "$VIP3_6" "[$VIP3_6]" "$N_DR"
sleep 1
kill -INT "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then v=$VIP3_4 p=ip; else v=$VIP3_6 p=ip6; fi
	to_rs=$(tcpdump -n -r "$WORK/dir.pcap" "$p and dst host $v and (ether dst $RS1_MAC or ether dst $RS2_MAC)" 2>/dev/null | wc -l)
	from_vip=$(tcpdump -n -r "$WORK/dir.pcap" "$p and src host $v" 2>/dev/null | wc -l)
	if ((to_rs > 0 && from_vip == 0)); then
		pass "$FAM-dr-path"
	else
		fail "$FAM-dr-path" "on the director's eth0: want requests for $v sent to the real servers' MACs ($RS1_MAC, $RS2_MAC) and no packet from $v; got $to_rs to the real servers, $from_vip from the VIP: $(tcpdump -n -e -r "$WORK/dir.pcap" "$p and src host $v" 2>/dev/null | head -n 2 | squash)"
	fi
done

# --- who answers for the dr VIP on the link
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then v=$VIP3_4 s=$RTR4; else v=$VIP3_6 s=$RTR6; fi
	got=$(NSX_TIMEOUT=60 nsx "$NS_RTR" python3 "$HERE/dr_mode.d/neigh.py" br-lan "$v" "$s" 2>"$WORK/neigh.$FAM.err" | squash)
	if [[ $got == "$DIR_MAC" ]]; then
		pass "$FAM-neigh"
	else
		fail "$FAM-neigh" "who has $v on the director's link: want only the director ($DIR_MAC; rs1 $RS1_MAC, rs2 $RS2_MAC); got '$got' $(squash <"$WORK/neigh.$FAM.err")"
	fi
done

# --- the other modes on the same real servers
answered ipv4-mixed-dscp ipv4 "$VIP1_4" "$VIP1_4" "$N_MIX"
answered ipv4-mixed-ipip ipv4 "$VIP2_4" "$VIP2_4" "$N_MIX"
answered ipv6-mixed-dscp ipv6 "$VIP1_6" "[$VIP1_6]" "$N_MIX"
answered ipv6-mixed-ipip ipv6 "$VIP2_6" "[$VIP2_6]" "$N_MIX"

# --- refusals
dir_state() { nsx "$NS_DIR" "$BIN" director show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for s in d["services"]:
    s.pop("stats")
    for r in s["reals"]:
        for k in ("stats", "active_conns", "inactive_conns", "persist_conns"):
            r.pop(k)
print(json.dumps(d, sort_keys=True))' 2>&1; }
for FAM in ipv4 ipv6; do
	if [[ $FAM == ipv4 ]]; then
		h=$VIP3_4 far=$FAR4 nets="IPv4 subnets: 192.0.2.0/24"
	else
		h="[$VIP3_6]" far=$FAR6 nets="IPv6 subnets: 2001:db8:d::/64"
	fi
	before=$(dir_state)
	out=$(nsx "$NS_DIR" "$BIN" director real add --vip "$h:$TCP_PORT" --real "$far" 2>&1)
	rc=$?
	after=$(dir_state)
	msg="real server $far of tcp $h:$TCP_PORT (direct routing) is on no subnet of this director (its $nets)"
	if ((rc == 2)) && [[ $out == *"$msg"* && $before == "$after" ]]; then
		pass "$FAM-refuse"
	else
		fail "$FAM-refuse" "want exit 2, '$msg' and no change; got exit $rc: $(squash <<<"$out"); state changed: $([[ $before == "$after" ]] && echo no || echo yes)"
	fi
done
rs_state() {
	{
		ip -n "$NS_RS1" -o addr show dev lo
		nsx "$NS_RS1" sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce
		nsx "$NS_RS1" "$BIN" realserver show -o json
	} 2>&1
}
before=$(rs_state)
out=$(nsx "$NS_RS1" "$BIN" realserver up --vip 10.0.0.4 --mode dr --dscp 7 2>&1)
rc=$?
after=$(rs_state)
msg="DSCP 7 given for VIP 10.0.0.4 in dr mode: dr mode uses no DSCP code"
if ((rc == 2)) && [[ $out == *"$msg"* && $before == "$after" ]]; then
	pass rs-refuse
else
	fail rs-refuse "want exit 2, '$msg' and no change; got exit $rc: $(squash <<<"$out"); changed: $(diff <(echo "$before") <(echo "$after") | head -n 4 | squash)"
fi

# --- save | apply
ok=1 why=
for n in "$NS_DIR" "$NS_RS1"; do
	if ! nsx "$n" "$BIN" save >"$WORK/$n.saved" 2>"$WORK/$n.save.err"; then
		ok=0 why+="save in $n: $(squash <"$WORK/$n.save.err"); "
		continue
	fi
	out=$(nsx "$n" "$BIN" apply -f "$WORK/$n.saved" 2>&1)
	rc=$?
	if ((rc != 0)) || [[ $out != "no change" ]]; then
		ok=0 why+="apply in $n: exit $rc, '$(squash <<<"$out")' for $(squash <"$WORK/$n.saved"); "
	fi
done
grep -q "mode: dr" "$WORK/$NS_DIR.saved" 2>/dev/null || { ok=0 why+="the director's file has no 'mode: dr'; "; }
grep -q "mode: dr" "$WORK/$NS_RS1.saved" 2>/dev/null || { ok=0 why+="rs1's file has no 'mode: dr'; "; }
if ((ok)); then pass save-apply; else fail save-apply "$why"; fi

# --- teardown of the dr VIPs: exactly what up added
before=$(ip -n "$NS_RS1" -o addr show dev lo | grep -v -e " $VIP3_4/" -e " $VIP3_6/")
sys_before=$(nsx "$NS_RS1" sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.all.rp_filter 2>&1)
why=
for v in "$VIP3_4" "$VIP3_6"; do
	out=$(nsx "$NS_RS1" "$BIN" realserver down --vip "$v" 2>&1) || why+="down $v: $(squash <<<"$out"); "
done
after=$(ip -n "$NS_RS1" -o addr show dev lo)
sys_after=$(nsx "$NS_RS1" sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.all.rp_filter 2>&1)
[[ $before == "$after" ]] || why+="lo of rs1: want the other VIPs only, got $(squash <<<"$after"); "
[[ $sys_before == "$sys_after" ]] || why+="sysctls moved: $(squash <<<"$sys_before") -> $(squash <<<"$sys_after"); "
for v in "$VIP3_4" "[$VIP3_6]"; do
	out=$(nsx "$NS_DIR" "$BIN" director service del --vip "$v:$TCP_PORT" 2>&1) || why+="service del $v: $(squash <<<"$out"); "
done
if ip -n "$NS_DIR" -o addr show dev lo | grep -q -e " $VIP3_4/" -e " $VIP3_6/"; then
	why+="a dr VIP is left on the director's lo; "
fi
if [[ -z $why ]]; then pass teardown; else fail teardown "$why"; fi
exit 0
