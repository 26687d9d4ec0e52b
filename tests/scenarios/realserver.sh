# shellcheck shell=bash
# realserver: `l3dsr realserver up/down/show` does the whole real-server setup, in both modes,
# IPv4 and IPv6, through netlink; the real server's setup has no ip addr, sysctl or iptables.
#
#   rs-cli  c0 192.0.2.1/24, 2001:db8:1::1/64         (stands in for client + director)
#     │ veth   nft: packets to a dscp VIP get its DSCP (TCP; UDP sets it with IP_TOS) and
#     │        the RIP as destination, as the director's IPVS NAT + mark would;
#     │        tun4 (ipip) / tun6 (ip6ip6) to the RIP carry packets for the ipip VIPs
#   rs-srv  r0 RIP 192.0.2.10/24, 2001:db8:1::10/64
#           dscp VIPs 10.70.0.1 (DSCP 21), 2001:db8:70::1 (DSCP 22), 10.70.0.2 (DSCP 23, on lo
#           already before up); ipip VIPs 10.70.1.1, 2001:db8:71::1; one python process
#           serving UDP and TCP (HTTP/1.0) on each VIP:8080
#
# Cases:
#   up-*          each `up` exits 0; after them lo holds every VIP /32 (/128), the sysctls read
#                 what docs/realserver.md says, raw PREROUTING has exactly one map rule per
#                 family, `rule list` has the mappings, tunl0/ip6tnl0 are up, the clamp table
#                 has MSS 1440 / 1400
#   dscp-*        UDP (IP_TOS) and TCP (curl) to each dscp VIP, sent to the RIP with the DSCP,
#                 are answered from the VIP; the mapping's packet counter moved
#   ipip-*        UDP and curl over the client's tunnels are answered from the VIP; the
#                 capture on c0 holds the encapsulated requests and the VIP's SYN-ACK with the
#                 clamped MSS (1440 / 1400), while a dscp VIP's SYN-ACK keeps 1460 / 1440
#   show-*        show exits 0 with no problem and counts packets; after `ip addr del` of a
#                 VIP it exits 1 naming the VIP and the fix; `up` again repairs it
#   again-*       a second `up` of every VIP prints "no change" and changes nothing
#   err-*         --dscp 64, a family mismatch, dscp in ipip mode (exit 2), a duplicate key,
#                 down of an unknown VIP (exit 1): value named, nothing changed
#   down-*        down undoes exactly what up did, step by step: shared sysctls and rules stay
#                 while a VIP needs them; the pre-existing address, sysctl and raw rules stay;
#                 a mapping changed by someone else is kept; at the end everything is as
#                 before up
# SC2317: cleanup runs through on_exit.
# shellcheck disable=SC2317
set -u

C=rs-cli S=rs-srv
WORK=$PWD
D=$(dirname "$0")/realserver.d
PORT=8080
CLI4=192.0.2.1 CLI6=2001:db8:1::1
RIP4=192.0.2.10 RIP6=2001:db8:1::10
VIP4=10.70.0.1 VIP6=2001:db8:70::1 VIP4B=10.70.0.2
DSCP4=21 DSCP6=22 DSCP4B=23
TUN4=10.70.1.1 TUN6=2001:db8:71::1
TOKEN=rs-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 12)
export L3DSR_STATE_DIR=$WORK/state
MAPLINE='-A PREROUTING -j DADDR --map'
OTHER4='-A PREROUTING -p udp -m udp --dport 9999 -j ACCEPT'
OTHER6='-A PREROUTING -p udp -m udp --dport 9998 -j ACCEPT'

cleanup() {
	local n
	for n in $C $S; do
		# the DADDR rules keep the module busy until the namespace is freed
		ip netns exec "$n" iptables -w -t raw -F 2>/dev/null
		ip netns exec "$n" ip6tables -w -t raw -F 2>/dev/null
	done
	ns_del "$C" "$S"
}
on_exit cleanup

for t in python3 curl tcpdump jq nft; do
	if ! command -v $t >/dev/null; then
		fail setup "$t is not installed (the scenario needs it)"
		exit 0
	fi
done
if [[ ! -x $L3DSR_BIN ]]; then
	fail setup "$L3DSR_BIN missing: run 'make go' on the host"
	exit 0
fi

l3() { timeout 60 ip netns exec $S "$L3DSR_BIN" "$@"; }
srv() { timeout 30 ip netns exec $S "$@"; }
cli() { timeout 30 ip netns exec $C "$@"; }
maprules() { srv "$1" -t raw -S PREROUTING | grep -cxF -- "$MAPLINE"; }
sysval() { srv cat "/proc/sys/net/ipv4/conf/$1/$2" 2>/dev/null || echo missing; }

# ---------------------------------------------------------------------------------------------
log "topology"
topo() {
	ns_pair $C $S "$CLI4/24" "$CLI6/64" || return 1
	# The client: routes to the dscp VIPs through the RIP (nft below turns them into what a
	# director sends), tunnels to the RIP for the ipip VIPs. rp_filter off: the VIPs' replies
	# come in on c0, not on the tunnels the VIPs are routed through.
	cli sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	ip -n $C -batch - <<-EOF || return 1
		route add $VIP4/32 via $RIP4
		route add $VIP4B/32 via $RIP4
		route add $VIP6/128 via $RIP6
		link add tun4 type ipip local $CLI4 remote $RIP4
		link add tun6 type ip6tnl mode ip6ip6 local $CLI6 remote $RIP6
		link set tun4 up
		link set tun6 up
		route add $TUN4/32 dev tun4
		route add $TUN6/128 dev tun6
	EOF
	cli sysctl -qw net.ipv4.conf.tun4.rp_filter=0 net.ipv4.conf.c0.rp_filter=0 || return 1
	cli nft -f - <<-EOF || return 1
		table ip rscli {
			chain post {
				type filter hook postrouting priority 0;
				ip daddr $VIP4 meta l4proto tcp ip dscp set $DSCP4
				ip daddr $VIP4B meta l4proto tcp ip dscp set $DSCP4B
				ip daddr { $VIP4, $VIP4B } ip daddr set $RIP4
			}
		}
		table ip6 rscli {
			chain post {
				type filter hook postrouting priority 0;
				ip6 daddr $VIP6 meta l4proto tcp ip6 dscp set $DSCP6
				ip6 daddr $VIP6 ip6 daddr set $RIP6
			}
		}
	EOF
	# The server: addresses and routes only (the RIP is how the director reaches it).
	ip -n $S -batch - <<-EOF || return 1
		addr add $RIP4/24 dev r0
		addr add $RIP6/64 dev r0 nodad
	EOF
	# Pre-existing state that up and down must respect (not setup for the VIPs): a strict
	# rp_filter, arp_announce already as up wants it, one VIP already on lo, and raw rules of
	# someone else.
	srv sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.all.arp_ignore=0 || return 1
	ip -n $S addr add $VIP4B/32 dev lo || return 1
	srv iptables -w -t raw -A PREROUTING -p udp --dport 9999 -j ACCEPT || return 1
	srv ip6tables -w -t raw -A PREROUTING -p udp --dport 9998 -j ACCEPT || return 1
}
if ! out=$(topo 2>&1); then
	fail setup "topology: $(squash <<<"$out")"
	exit 0
fi
# Everything up and down could touch, in one text (tunl0 and ip6tnl0 exist from the start: the
# client's tunnels loaded their modules; whether they are up is checked on its own).
snapshot() {
	local k
	echo "## lo"
	srv ip -o addr show dev lo | awk '{print $4}' | sort
	echo "## sysctl"
	for k in arp_ignore arp_announce rp_filter; do echo "all.$k=$(sysval all $k)"; done
	for k in default r0 tunl0; do echo "$k.rp_filter=$(sysval $k rp_filter)"; done
	echo "## iptables raw"
	srv iptables -w -t raw -S
	echo "## ip6tables raw"
	srv ip6tables -w -t raw -S
	echo "## map"
	l3 rule list -o json 2>&1 | jq -c '.[] | [.family, .dscp, .local, .vip]' 2>&1
	echo "## nft tables"
	srv nft list tables
	srv nft list table inet l3dsr_rs 2>/dev/null
}
snapshot >"$WORK/before"
R0RP=$(sysval r0 rp_filter)

# ---------------------------------------------------------------------------------------------
log "up"
upargs=(
	"--vip $VIP4 --dscp $DSCP4"
	"--vip $VIP6 --dscp $DSCP6 --local $RIP6"
	"--vip $VIP4B --dscp $DSCP4B"
	"--vip $TUN4 --mode ipip"
	"--vip $TUN6 --mode ipip"
)
bad=
for a in "${upargs[@]}"; do
	# shellcheck disable=SC2086
	out=$(l3 realserver up $a 2>&1) || bad+="'up $a' exited $?: $out; "
	printf '%s\n' "$out"
done
if [[ -z $bad ]]; then pass up-exit; else fail up-exit "${bad%; }"; fi

lo=$(srv ip -o addr show dev lo)
bad=
for p in $VIP4/32 $VIP4B/32 $VIP6/128 $TUN4/32 $TUN6/128; do
	grep -q " inet6\? $p scope global" <<<"$lo" || bad+="$p; "
done
if [[ -z $bad ]]; then pass up-lo; else fail up-lo "want on lo with scope global: ${bad%; } missing in: $(squash <<<"$lo")"; fi

# ipip mode: rp_filter 0 on tunl0 and all (tunl0 has no address, so any rp_filter drops what
# it decapsulates); r0 and default keep their effective value, max(old all = 1, own), made
# loose (2) for the dscp VIPs.
got="$(sysval all arp_ignore) $(sysval all arp_announce) $(sysval all rp_filter) $(sysval tunl0 rp_filter) $(sysval r0 rp_filter) $(sysval default rp_filter)"
expect_eq up-sysctl "$got" "1 2 0 0 2 2" "all.arp_ignore all.arp_announce all.rp_filter tunl0.rp_filter r0.rp_filter default.rp_filter"
expect_eq up-rule-v4 "$(maprules iptables)" 1 "'$MAPLINE' in iptables -t raw -S PREROUTING"
expect_eq up-rule-v6 "$(maprules ip6tables)" 1 "'$MAPLINE' in ip6tables -t raw -S PREROUTING"
map=$(l3 rule list -o json 2>&1 | jq -c '[.[] | [.family, .dscp, .local, .vip]] | sort' 2>&1)
expect_eq up-mapping "$map" \
	"[[\"ipv4\",$DSCP4,\"any\",\"$VIP4\"],[\"ipv4\",$DSCP4B,\"any\",\"$VIP4B\"],[\"ipv6\",$DSCP6,\"$RIP6\",\"$VIP6\"]]" \
	"l3dsr rule list"
t4=$(srv ip -o link show tunl0 2>&1) t6=$(srv ip -o link show ip6tnl0 2>&1)
if [[ $t4 == *"<"*UP*">"* && $t6 == *"<"*UP*">"* ]]; then
	pass up-tunnels
else
	fail up-tunnels "want tunl0 and ip6tnl0 up, got: $(squash <<<"$t4") / $(squash <<<"$t6")"
fi
nftc=$(srv nft list table inet l3dsr_rs 2>&1)
if grep -q "ip saddr $TUN4 .*maxseg size set 1440" <<<"$nftc" && grep -q "ip6 saddr $TUN6 .*maxseg size set 1400" <<<"$nftc"; then
	pass up-clamp
else
	fail up-clamp "want clamps 1440 for $TUN4 and 1400 for $TUN6 in table inet l3dsr_rs, got: $(squash <<<"$nftc")"
fi

# ---------------------------------------------------------------------------------------------
log "traffic"
ip netns exec $S python3 "$D/peer.py" serve $PORT "$TOKEN" "$WORK/ready" $VIP4 $VIP4B $VIP6 $TUN4 $TUN6 \
	>"$WORK/server.out" 2>&1 &
if ! wait_for 60 test -e "$WORK/ready"; then
	fail setup "the servers on the VIPs did not start within 60s: $(squash <"$WORK/server.out")"
	exit 0
fi
ip netns exec $C tcpdump -n -i c0 -U -w "$WORK/c0.pcap" >/dev/null 2>"$WORK/tcpdump.err" &
CAP=$!
wait_for 30 grep -q 'listening on' "$WORK/tcpdump.err" || log "tcpdump not listening: $(cat "$WORK/tcpdump.err")"

url() { if [[ $1 == *:* ]]; then echo "http://[$1]:$PORT/"; else echo "http://$1:$PORT/"; fi; }
# The UDP ask sets the DSCP itself for the dscp VIPs (nft sets it for TCP only).
for x in "dscp-v4 $VIP4 $DSCP4" "dscp-v4b $VIP4B $DSCP4B" "dscp-v6 $VIP6 $DSCP6" "ipip-v4 $TUN4 0" "ipip-v6 $TUN6 0"; do
	# shellcheck disable=SC2086 # split on purpose
	set -- $x
	udp=$(cli python3 "$D/peer.py" ask "$2" $PORT "$3" "hello-$1" 2>&1)
	expect_eq "$1-udp" "$udp" "udp token=$TOKEN vip=$2 got=hello-$1" "answer on a UDP socket connected to $2"
	page=$(cli curl -sS -m 10 "$(url "$2")" 2>&1)
	cl=$CLI4
	[[ $2 != *:* ]] || cl=$CLI6
	expect_eq "$1-tcp" "$page" "tcp token=$TOKEN vip=$2 client=$cl" "curl $(url "$2")"
done
sleep 1
kill -INT $CAP
wait $CAP 2>/dev/null

ctr=$(l3 rule list -o json 2>&1)
bad=
for v in $VIP4 $VIP4B $VIP6; do
	n=$(jq -r --arg v "$v" '.[] | select(.vip == $v) | .packets' <<<"$ctr" 2>/dev/null)
	[[ $n =~ ^[0-9]+$ ]] && ((n >= 4)) || bad+="$v: '$n'; "
done
if [[ -z $bad ]]; then pass dscp-counters; else fail dscp-counters "want >= 4 packets (UDP + TCP) on each dscp VIP's mapping: ${bad%; } in $(squash <<<"$ctr")"; fi

pc() { timeout 30 tcpdump -n -r "$WORK/c0.pcap" "$@" 2>/dev/null; }
synack() { pc "src host $1 and tcp" | grep -F 'Flags [S.]' | grep -o 'mss [0-9]*' | head -n 1; }
got="$(synack $TUN4) / $(synack $TUN6) / $(synack $VIP4) / $(synack $VIP6)"
expect_eq ipip-mss "$got" "mss 1440 / mss 1400 / mss 1460 / mss 1440" \
	"SYN-ACK MSS from $TUN4 / $TUN6 (ipip, clamped) / $VIP4 / $VIP6 (dscp, not clamped)"
enc4=$(pc "ip proto 4 and dst host $RIP4" | grep -c "$TUN4.$PORT")
enc6=$(pc "ip6 and dst host $RIP6" | grep -c "$TUN6.$PORT")
if ((enc4 > 0 && enc6 > 0)); then
	pass ipip-encapsulated
else
	fail ipip-encapsulated "want IPIP packets to $RIP4 carrying $TUN4.$PORT and IP6IP6 to $RIP6 carrying $TUN6.$PORT on c0, got $enc4 and $enc6: $(pc ip proto 4 | head -n 3 | squash)"
fi
marked=$(pc "ip and dst host $RIP4 and (ip[1] & 0xfc) == $((DSCP4 << 2))" | grep -c "$RIP4.$PORT")
if ((marked > 0)); then pass dscp-on-wire; else fail dscp-on-wire "want packets to $RIP4.$PORT with DSCP $DSCP4 on c0, saw none"; fi

# ---------------------------------------------------------------------------------------------
log "show"
out=$(l3 realserver show 2>&1)
rc=$?
printf '%s\n' "$out"
if ((rc == 0)) && ! grep -q problem <<<"$out" && grep -q "^$VIP4 .*dscp .*$DSCP4 .*ok" <<<"$out"; then
	pass show-ok
else
	fail show-ok "want exit 0, $VIP4 ok and no problem; got exit $rc: $(squash <<<"$out")"
fi
js=$(l3 realserver show -o json 2>&1)
got=$(jq -r --arg v $VIP4 '[(.problems | length), (.vips | length), (.vips[] | select(.vip == $v) | .mapping.packets > 0), (.vips[] | select(.mode == "ipip") | .clamp_mss)] | map(tostring) | join(" ")' <<<"$js" 2>&1 | squash)
expect_eq show-json "$got" "0 5 true 1440 1400" "show -o json: problems, VIPs, packets>0 of $VIP4, clamp MSS"

snapshot >"$WORK/up1"
log "up again"
bad=
for a in "${upargs[@]}"; do
	# shellcheck disable=SC2086
	out=$(l3 realserver up $a 2>&1) || bad+="'up $a' exited $?: $out; "
	[[ $out == "no change: "* && $(wc -l <<<"$out") == 1 ]] || bad+="'up $a' printed: $out; "
done
if [[ -z $bad ]]; then pass again-no-change; else fail again-no-change "${bad%; }"; fi
snapshot >"$WORK/up2"
if diff -u "$WORK/up1" "$WORK/up2" >"$WORK/diff"; then pass again-same-state; else fail again-same-state "$(squash <"$WORK/diff")"; fi

srv ip addr del $VIP4/32 dev lo
out=$(l3 realserver show 2>&1)
rc=$?
printf '%s\n' "$out"
if ((rc == 1)) && grep -q "problem: VIP $VIP4: VIP $VIP4 is not on lo" <<<"$out" &&
	grep -qF "fix: run 'l3dsr realserver up --vip $VIP4 --dscp $DSCP4'" <<<"$out"; then
	pass show-flags-missing-vip
else
	fail show-flags-missing-vip "want exit 1, 'VIP $VIP4 is not on lo' and its fix; got exit $rc: $(squash <<<"$out")"
fi
out=$(l3 realserver up --vip $VIP4 --dscp $DSCP4 2>&1)
if [[ $out == *"added $VIP4/32 to lo"* ]] && l3 realserver show >/dev/null 2>&1; then
	pass show-repaired-by-up
else
	fail show-repaired-by-up "want 'up' to add $VIP4/32 back and show to exit 0, got: $(squash <<<"$out")"
fi

# ---------------------------------------------------------------------------------------------
log "errors"
snapshot >"$WORK/pre-err"
errcase() { # CASE WANT-RC WANT-TEXT ARGS...
	local c=$1 want=$2 text=$3 out rc=0
	shift 3
	out=$(l3 realserver "$@" 2>&1) || rc=$?
	if ((rc == want)) && [[ $out == *"$text"* ]]; then
		pass "$c"
	else
		fail "$c" "'realserver $*': want exit $want and '$text', got exit $rc: $(squash <<<"$out")"
	fi
}
errcase err-dscp-64 2 "DSCP 64 is out of range" up --vip 10.70.0.9 --dscp 64
errcase err-family 2 "VIP 10.70.0.9 is IPv4 but --local $RIP6 is IPv6" up --vip 10.70.0.9 --dscp 30 --local $RIP6
errcase err-ipip-dscp 2 "DSCP 3 given for VIP 10.70.1.9 in ipip mode" up --vip 10.70.1.9 --mode ipip --dscp 3
errcase err-duplicate-key 1 "VIP 10.70.0.9 and VIP $VIP4 would both be DSCP $DSCP4" up --vip 10.70.0.9 --dscp $DSCP4
errcase err-down-unknown 1 "VIP 10.70.0.9 was not set up" down --vip 10.70.0.9
errcase err-mode 2 'mode "gre": use dscp, addr or ipip (L3 DSR), or dr (L2 DSR)' up --vip 10.70.0.9 --mode gre
# addr mode and --set-dscp: refused before anything is touched (issue 22)
errcase err-addr-dscp 2 "--dscp 5 given for VIP 10.70.2.1 in addr mode: addr mode uses no DSCP code (the VIP is known by --rip); leave --dscp out, or use --mode dscp" up --vip 10.70.2.1 --mode addr --rip 192.0.2.50 --dscp 5
errcase err-addr-no-rip 2 "VIP 10.70.2.1 in addr mode needs its RIP: give --rip" up --vip 10.70.2.1 --mode addr
errcase err-addr-primary4 2 "--rip $RIP4 is the primary address of r0 ($RIP4/24)" up --vip 10.70.2.1 --mode addr --rip $RIP4
errcase err-addr-primary6 2 "--rip $RIP6 is the primary address of r0 ($RIP6/64)" up --vip 2001:db8:72::1 --mode addr --rip $RIP6
errcase err-addr-dev 2 "--dev nosuch0: " up --vip 10.70.2.1 --mode addr --rip 192.0.2.50 --dev nosuch0
errcase err-addr-rip-dscp-mode 2 "--rip 192.0.2.50 given for VIP 10.70.2.1 in dscp mode" up --vip 10.70.2.1 --dscp 30 --rip 192.0.2.50
errcase err-set-dscp-ipip 2 "--set-dscp 0 given for VIP 10.70.1.9 in ipip mode" up --vip 10.70.1.9 --mode ipip --set-dscp 0
snapshot >"$WORK/post-err"
if diff -u "$WORK/pre-err" "$WORK/post-err" >"$WORK/diff"; then pass err-no-change; else fail err-no-change "$(squash <"$WORK/diff")"; fi

# ---------------------------------------------------------------------------------------------
log "down, one VIP at a time"
down() { # CASE VIP: down exits 0
	local out rc=0
	out=$(l3 realserver down --vip "$2" 2>&1) || rc=$?
	printf '%s\n' "$out"
	if ((rc == 0)); then pass "$1"; else fail "$1" "down --vip $2 exited $rc: $(squash <<<"$out")"; fi
	DOWN_OUT=$out
}
lohas() { srv ip -o addr show dev lo | grep -q " $1 "; }

down down-vip4 $VIP4
got="$(lohas $VIP4/32 && echo on || echo off) all=$(sysval all rp_filter) r0=$(sysval r0 rp_filter) rules=$(maprules iptables)"
expect_eq down-vip4-shared-kept "$got" "off all=0 r0=2 rules=1" "after down of $VIP4 ($VIP4B still needs the IPv4 rule and a loose r0)"

down down-vip4b $VIP4B
got="$(lohas $VIP4B/32 && echo on || echo off) all=$(sysval all rp_filter) r0=$(sysval r0 rp_filter) arp_ignore=$(sysval all arp_ignore) rules=$(maprules iptables)"
expect_eq down-vip4b-restores "$got" "on all=0 r0=$((R0RP > 1 ? R0RP : 1)) arp_ignore=1 rules=0" \
	"after down of $VIP4B (on lo before up; the ipip VIP $TUN4 still needs arp_ignore and all=0, r0 back to max(old all, own))"

# Someone repoints VIP6's key: down must keep that mapping, and so the IPv6 rule.
l3 rule add --replace --dscp $DSCP6 --local $RIP6 --vip 2001:db8:70::99 >/dev/null
down down-vip6 $VIP6
got=$(l3 rule list -o json | jq -r '.[] | select(.family == "ipv6") | .vip')
if [[ $got == 2001:db8:70::99 && $DOWN_OUT == *"kept IPv6 DSCP $DSCP6 local $RIP6"* && $(maprules ip6tables) == 1 ]]; then
	pass down-keeps-foreign-mapping
else
	fail down-keeps-foreign-mapping "want the repointed mapping and the IPv6 map rule kept and said so; got mapping '$got', rules $(maprules ip6tables): $(squash <<<"$DOWN_OUT")"
fi
# The test's own cleanup of what it changed: the mapping, and the rule it kept alive.
l3 rule del --dscp $DSCP6 --local $RIP6 >/dev/null
srv ip6tables -w -t raw -D PREROUTING -j DADDR --map

down down-tun4 $TUN4
got="arp_ignore=$(sysval all arp_ignore) all=$(sysval all rp_filter) r0=$(sysval r0 rp_filter) $(srv ip -o link show tunl0 | grep -o '<[^>]*>')"
want="arp_ignore=0 all=1 r0=$R0RP "
if [[ $got == "$want"* && $got != *'<'*UP*'>'* ]]; then
	pass down-tun4-restores
else
	fail down-tun4-restores "want '$want' and tunl0 down, got '$got'"
fi

down down-tun6 $TUN6
t6=$(srv ip -o link show ip6tnl0 2>&1)
if [[ $t6 != *"<"*UP*">"* ]] && ! srv nft list table inet l3dsr_rs >/dev/null 2>&1; then
	pass down-tun6-clean
else
	fail down-tun6-clean "want ip6tnl0 down and no table inet l3dsr_rs, got: $(squash <<<"$t6") / $(srv nft list tables | squash)"
fi

snapshot >"$WORK/after"
if diff -u "$WORK/before" "$WORK/after" >"$WORK/diff"; then
	pass down-as-before
else
	fail down-as-before "state after every down differs from before up: $(squash <"$WORK/diff")"
fi
got="$(srv iptables -w -t raw -S PREROUTING | grep -cxF -- "$OTHER4") $(srv ip6tables -w -t raw -S PREROUTING | grep -cxF -- "$OTHER6")"
expect_eq down-others-untouched "$got" "1 1" "the raw PREROUTING rules of someone else (IPv4, IPv6)"
out=$(l3 realserver show 2>&1)
rc=$?
expect_eq down-show-empty "$rc $out" "0 no VIP set up by 'l3dsr realserver up' in this network namespace" "show after down"
[[ ! -e $L3DSR_STATE_DIR ]] || ls -R "$L3DSR_STATE_DIR"
exit 0
