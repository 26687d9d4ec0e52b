# shellcheck shell=bash
# Ingress limits for the map rule (issue 22, "DSR codes honoured only where they may come from"):
# `l3dsr realserver up --ingress`. Source this file from a scenario (common.sh sourced first)
# and call `ingress_cases [PREFIX]`; it builds its own network (topo.sh, one real server, IPv4
# and IPv6) and removes it on exit.
#
# The real server gets a second interface, eth1, on a link straight to the client
# (198.18.0.0/30, 2001:db8:f::/64): the client reaches the RIP through the router (arriving on
# the real server's eth0, the allowed interface) or, with a host route, through that link
# (arriving on eth1, not allowed). VIPs 10.0.0.1 and 2001:db8:80::1, DSCP 21, each with a UDP
# server socket (map_cli.d/udp.py) that answers from the VIP.
#
# Cases (each for v4 and v6 where it says -vF):
#   unknown-iface       up --ingress eth0,eth9: exit 2, stderr names "eth9" and 'ip link';
#   unknown-iface-nothing-changed    raw PREROUTING, the state ('show') and lo as before
#   up-vF               up --vip VIP --dscp 21 --ingress eth0: exit 0
#   rules-eth0-vF       raw PREROUTING's DADDR rules are exactly "-A PREROUTING -i eth0 -j DADDR
#                       --map" (no unlimited rule)
#   show-ingress        `realserver show` prints "ingress: eth0", -o json has .ingress == ["eth0"]
#   show-stray-rule     an unlimited IPv4 rule added by hand: show exits 1 naming it
#   repair-up, repair-rules-v4   up --ingress eth0 again: exit 0, the -i eth0 rule alone again
#   allowed-vF          N coded requests to the RIP through the router: N replies from the VIP,
#   allowed-counter-vF  and the entry's packet counter moves by exactly N
#   denied-vF           N coded requests to the RIP through eth1: no reply (the VIP's socket
#   denied-counter-vF   got nothing) and the entry's counter does not move
#   rules-both-vF       up --ingress eth0,eth1: the rules are the two -i lines
#   now-allowed-vF      the same requests through eth1 now get N replies, counter +N (the limit
#                       was what stopped them: the denied cases can fail)
#   rules-any-vF        up --ingress any: the one unlimited rule "-A PREROUTING -j DADDR --map"
#   up-both, up-any     the ups that change the list exit 0
#   down-vF             down of each VIP exits 0;
#   down-rules-vF       no DADDR rule left in raw PREROUTING

ingress_cases() {
	local p=${1:-ig-} work=$PWD port=7100 n=5 f t out rc before after
	local udp
	udp=$(dirname "${BASH_SOURCE[0]}")/../map_cli.d/udp.py
	local -A vip=([4]=10.0.0.1 [6]=2001:db8:80::1) rip bin=([4]=iptables [6]=ip6tables)

	for t in python3; do
		if ! command -v $t >/dev/null; then
			fail setup "$t is not installed (the ingress cases need it)"
			return 0
		fi
	done
	topo_init "$p" 46 1
	on_exit topo_down
	if ! out=$(topo_up 2>&1); then
		fail setup "topology: $out"
		return 0
	fi
	rip=([4]=$RIP4 [6]=$RIP6)
	# The second link: client c-rs <-> real server eth1.
	if ! out=$({
		timeout 20 ip link add c-rs netns "$NS_CLI" type veth peer name eth1 netns "$NS_RS" &&
			printf '%s\n' "link set c-rs addrgenmode none" "link set c-rs up" "addr add 198.18.0.1/30 dev c-rs" \
				"addr add fe80::1/64 dev c-rs nodad" "addr add 2001:db8:f::1/64 dev c-rs nodad" |
			timeout 20 ip -n "$NS_CLI" -batch - &&
			printf '%s\n' "link set eth1 addrgenmode none" "link set eth1 up" "addr add 198.18.0.2/30 dev eth1" \
				"addr add fe80::2/64 dev eth1 nodad" "addr add 2001:db8:f::2/64 dev eth1 nodad" |
			timeout 20 ip -n "$NS_RS" -batch -
	} 2>&1); then
		fail setup "second link: $out"
		return 0
	fi

	l3() { nsx "$NS_RS" "$L3DSR_BIN" "$@"; }
	# daddr F: the DADDR rules of raw PREROUTING, one per line
	daddr() { ns "$NS_RS" "${bin[$1]}" -t raw -S PREROUTING 2>&1 | grep -e DADDR -e 'rror'; }
	# packets F: the packet counter of VIP F's DSCP 21 entry
	packets() {
		l3 rule list -o json | python3 -c 'import json, sys
print(*[e["packets"] for e in json.load(sys.stdin) if e["vip"] == sys.argv[1] and e["dscp"] == 21])' "${vip[$1]}"
	}
	# send F TAG: n coded requests to the RIP; prints "ipvF sent=n ok=K bad=M"
	send() {
		echo "${rip[$1]} 21 ${vip[$1]} $n" >"$work/$2.targets"
		timeout 120 ip netns exec "$NS_CLI" python3 "$udp" scale $port "$work/$2.targets" >"$work/$2.out" 2>&1
		grep "^ipv$1 " "$work/$2.out"
	}
	# via_eth1 add|del: the client's host routes to the RIPs through the direct link
	via_eth1() {
		ip -n "$NS_CLI" route "$1" "$RIP4/32" via 198.18.0.2 dev c-rs &&
			ip -n "$NS_CLI" -6 route "$1" "$RIP6/128" via 2001:db8:f::2 dev c-rs
	}
	# traffic CASE F WANT_OK: send, then check the replies and the counter's move
	traffic() {
		local c=$1 f=$2 want=$3 p0 p1 moved=?
		p0=$(packets "$f")
		# Where no reply is wanted, 1 s a request (not 3): the counter is the stronger check.
		if ((want == 0)); then out=$(UDP_TIMEOUT=1 send "$f" "$c-v$f"); else out=$(send "$f" "$c-v$f"); fi
		p1=$(packets "$f")
		[[ ! $p0 =~ ^[0-9]+$ || ! $p1 =~ ^[0-9]+$ ]] || moved=$((p1 - p0))
		expect_eq "$c-v$f" "$out" "ipv$f sent=$n ok=$want bad=$((n - want))" \
			"replies from VIP ${vip[$f]} ($(grep -m 2 '^bad' "$work/$c-v$f.out" | squash))"
		expect_eq "$c-counter-v$f" "$moved" "$want" "packets of DSCP 21 -> ${vip[$f]} (before '$p0', after '$p1')"
	}

	log "ingress: unknown interface"
	before=$(daddr 4; daddr 6; ns "$NS_RS" ip -br addr show dev lo)
	rc=0
	out=$(l3 realserver up --vip "${vip[4]}" --dscp 21 --ingress eth0,eth9 2>&1) || rc=$?
	if ((rc == 2)) && [[ $out == *'"eth9" does not exist here'* && $out == *"'ip link'"* ]]; then
		pass unknown-iface
	else
		fail unknown-iface "want exit 2 naming eth9 and 'ip link'; got exit $rc: $(squash <<<"$out")"
	fi
	after=$(daddr 4; daddr 6; ns "$NS_RS" ip -br addr show dev lo)
	out=$(l3 realserver show 2>&1)
	if [[ $before == "$after" && $out == *"no VIP set up"* ]]; then
		pass unknown-iface-nothing-changed
	else
		fail unknown-iface-nothing-changed "before: $(squash <<<"$before"); after: $(squash <<<"$after"); show: $(squash <<<"$out")"
	fi

	log "ingress: up limited to eth0"
	for f in 4 6; do
		expect "up-v$f" l3 realserver up --vip "${vip[$f]}" --dscp 21 --ingress eth0
		expect_eq "rules-eth0-v$f" "$(daddr $f)" "-A PREROUTING -i eth0 -j DADDR --map" "${bin[$f]} -t raw -S PREROUTING"
	done
	out=$(l3 realserver show 2>&1)
	if grep -qx "ingress: eth0" <<<"$out" && [[ $(l3 realserver show -o json | python3 -c 'import json, sys; print(json.load(sys.stdin).get("ingress"))') == "['eth0']" ]]; then
		pass show-ingress
	else
		fail show-ingress "want a line 'ingress: eth0' and .ingress [\"eth0\"]; got: $(squash <<<"$out")"
	fi
	# An unlimited rule added by hand voids the limit: show says so (exit 1), up repairs it.
	ns "$NS_RS" iptables -t raw -A PREROUTING -j DADDR --map
	rc=0
	out=$(l3 realserver show 2>&1) || rc=$?
	if ((rc == 1)) && [[ $out == *"the IPv4 map-mode rules look up packets from every interface, not from ingress eth0 alone"* ]]; then
		pass show-stray-rule
	else
		fail show-stray-rule "want exit 1 and the IPv4 rules off the list; got exit $rc: $(squash <<<"$out")"
	fi
	expect repair-up l3 realserver up --vip "${vip[4]}" --dscp 21 --ingress eth0
	expect_eq repair-rules-v4 "$(daddr 4)" "-A PREROUTING -i eth0 -j DADDR --map" "iptables -t raw -S PREROUTING after the repair"
	ns "$NS_RS" python3 "$udp" server $port "$work/ready" "${vip[4]}" "${vip[6]}" >"$work/server.log" 2>&1 &
	if ! wait_for 30 test -e "$work/ready"; then
		fail setup "the UDP server on the VIPs did not start: $(squash <"$work/server.log")"
		return 0
	fi

	log "ingress: coded requests on the allowed and the other interface"
	for f in 4 6; do traffic allowed $f $n; done
	via_eth1 add || fail setup "host routes through eth1"
	for f in 4 6; do traffic denied $f 0; done

	log "ingress: eth0 and eth1 allowed (new rules in before the old go)"
	expect up-both l3 realserver up --vip "${vip[4]}" --dscp 21 --ingress eth0,eth1
	for f in 4 6; do
		expect_eq "rules-both-v$f" "$(daddr $f | tr '\n' ' ')" \
			"-A PREROUTING -i eth0 -j DADDR --map -A PREROUTING -i eth1 -j DADDR --map " "${bin[$f]} -t raw -S PREROUTING"
		traffic now-allowed $f $n
	done
	via_eth1 del

	log "ingress: any"
	expect up-any l3 realserver up --vip "${vip[4]}" --dscp 21 --ingress any
	for f in 4 6; do
		expect_eq "rules-any-v$f" "$(daddr $f)" "-A PREROUTING -j DADDR --map" "${bin[$f]} -t raw -S PREROUTING"
	done

	log "ingress: down"
	for f in 4 6; do
		expect "down-v$f" l3 realserver down --vip "${vip[$f]}"
	done
	for f in 4 6; do
		expect_eq "down-rules-v$f" "$(daddr $f)" "" "DADDR rules left in ${bin[$f]} -t raw -S PREROUTING"
	done
}
