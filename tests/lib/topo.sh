# shellcheck shell=bash
# The L3 DSR topology of network namespaces, for the scenarios and the bench (source it after
# tests/lib/common.sh):
#
#              198.51.100.0/24                         192.0.2.0/24
#   client .10 eth0 ──── r-cli  router  r-dir ──── eth0 .20 director
#   2001:db8:c::10/64             │                 2001:db8:d::20/64
#                   r-rs1 … r-rsN │  real server I: 203.0.113.(16I)/28, 2001:db8:eI::/64
#                                 └──── eth0 .(16I+14) = RIP, 2001:db8:eI::30
#
# The router holds .1 (::1) of each link, forwards both families and routes the VIP ranges,
# 10.0.0.0/8 and 2001:db8:80::/48, to the director: requests go there, replies come straight
# back from the real servers. Every other host has a default route to the router.
#
#   topo_init PREFIX FAMILIES NRS  names and addresses, nothing built: FAMILIES is 4 or 46 (also
#                                  IPv6), NRS the number of real servers (1 to 14). Namespaces
#                                  are PREFIXclient, PREFIXrouter, PREFIXdirector, PREFIXrsI.
#   topo_up                        builds it, the hosts in parallel; at the first failure returns
#                                  1 with the reason on stderr
#   topo_down                      ns_del of all its namespaces
#
# topo_init sets NS_CLI NS_RTR NS_DIR NS_ALL, CLI4 RTR_C4 DIR4 RTR_D4, with IPv6 also CLI6 RTR_C6
# DIR6 RTR_D6, and per real server (arrays, index I-1) RS_NS RS_LINK (the router's side)
# RS_IP4 RS_GW4 RS_IP6 RS_GW6; for the first (often only) one NS_RS RTR_IF_RS RIP4 RIP6.
#
# Only the network is built: VIPs, sysctls of the director and the real servers, IPVS and
# rules are each scenario's business (the director scenario leaves them to l3dsr alone).
# Links get no automatic IPv6 link-local address but a fixed one without duplicate address
# detection (router fe80::1, host fe80::2), as every address here is: no address is tentative
# and no sysctl runs in the director or a real server.

topo_init() { # PREFIX FAMILIES NRS
	local p=$1 i
	TOPO_V6=0
	[[ $2 != 46 ]] || TOPO_V6=1
	NS_CLI=${p}client NS_RTR=${p}router NS_DIR=${p}director
	CLI4=198.51.100.10 RTR_C4=198.51.100.1 DIR4=192.0.2.20 RTR_D4=192.0.2.1
	CLI6=2001:db8:c::10 RTR_C6=2001:db8:c::1 DIR6=2001:db8:d::20 RTR_D6=2001:db8:d::1
	RS_NS=() RS_LINK=() RS_IP4=() RS_GW4=() RS_IP6=() RS_GW6=()
	for ((i = 1; i <= $3; i++)); do
		RS_NS+=("${p}rs$i") RS_LINK+=("r-rs$i")
		RS_IP4+=("203.0.113.$((16 * i + 14))") RS_GW4+=("203.0.113.$((16 * i + 1))")
		RS_IP6+=("2001:db8:e$i::30") RS_GW6+=("2001:db8:e$i::1")
	done
	# shellcheck disable=SC2034 # for the scenarios that source this file
	NS_RS=${RS_NS[0]} RTR_IF_RS=${RS_LINK[0]} RIP4=${RS_IP4[0]} RIP6=${RS_IP6[0]}
	NS_ALL=("$NS_CLI" "$NS_RTR" "$NS_DIR" "${RS_NS[@]}")
}

# _topo_ip NS: ip -batch in NS ("" for the VM's own), commands on stdin.
_topo_ip() {
	local out
	out=$(timeout 20 ip ${1:+-n "$1"} -batch - 2>&1) && return 0
	echo "ip ${1:+-n $1 }-batch failed: $(squash <<<"$out")" >&2
	return 1
}

# _topo_host NS IF ADDR4 GW4 PREFIXLEN4 ADDR6 GW6: lo and IF up with their addresses, default
# routes through the router.
_topo_host() {
	{
		echo "link set $2 addrgenmode none"
		echo "link set lo up"
		echo "link set $2 up"
		echo "addr add $3/$5 dev $2"
		echo "route add default via $4"
		if ((TOPO_V6)); then
			echo "addr add fe80::2/64 dev $2 nodad"
			echo "addr add $6/64 dev $2 nodad"
			echo "route add ::/0 via $7"
		fi
	} | _topo_ip "$1"
}

_topo_router() {
	local i out links=(r-cli r-dir "${RS_LINK[@]}")
	# Loose reverse-path filter (2): replies from a VIP arrive on a real server's link while the
	# route to the VIP points at the director, so strict mode (1) would drop them all. The
	# kernel takes the larger of "all" and the interface's value, so "all" is enough.
	if ! out=$(timeout 20 ip netns exec "$NS_RTR" sysctl -q -w net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=2 2>&1); then
		echo "sysctl in $NS_RTR failed: $(squash <<<"$out")" >&2
		return 1
	fi
	{
		echo "link set lo up"
		for i in "${links[@]}"; do
			echo "link set $i addrgenmode none"
			echo "link set $i up"
			((TOPO_V6 == 0)) || echo "addr add fe80::1/64 dev $i nodad"
		done
		echo "addr add $RTR_C4/24 dev r-cli"
		echo "addr add $RTR_D4/24 dev r-dir"
		echo "route add 10.0.0.0/8 via $DIR4"
		if ((TOPO_V6)); then
			echo "addr add $RTR_C6/64 dev r-cli nodad"
			echo "addr add $RTR_D6/64 dev r-dir nodad"
			echo "route add 2001:db8:80::/48 via $DIR6"
		fi
		for i in "${!RS_NS[@]}"; do
			echo "addr add ${RS_GW4[i]}/28 dev ${RS_LINK[i]}"
			((TOPO_V6 == 0)) || echo "addr add ${RS_GW6[i]}/64 dev ${RS_LINK[i]} nodad"
		done
	} | _topo_ip "$NS_RTR"
}

topo_up() {
	local i p rc=0 errs pids=()
	{
		for i in "${NS_ALL[@]}"; do echo "netns add $i"; done
		echo "link add eth0 netns $NS_CLI type veth peer name r-cli netns $NS_RTR"
		echo "link add eth0 netns $NS_DIR type veth peer name r-dir netns $NS_RTR"
		for i in "${!RS_NS[@]}"; do
			echo "link add eth0 netns ${RS_NS[i]} type veth peer name ${RS_LINK[i]} netns $NS_RTR"
		done
	} | _topo_ip "" || return 1
	# Under TCG every process start costs a second or more: the hosts are set up at once.
	errs=$(mktemp -d) || return 1
	_topo_router 2>"$errs/router" &
	pids+=($!)
	_topo_host "$NS_CLI" eth0 "$CLI4" "$RTR_C4" 24 "$CLI6" "$RTR_C6" 2>"$errs/client" &
	pids+=($!)
	_topo_host "$NS_DIR" eth0 "$DIR4" "$RTR_D4" 24 "$DIR6" "$RTR_D6" 2>"$errs/director" &
	pids+=($!)
	for i in "${!RS_NS[@]}"; do
		_topo_host "${RS_NS[i]}" eth0 "${RS_IP4[i]}" "${RS_GW4[i]}" 28 "${RS_IP6[i]}" "${RS_GW6[i]}" \
			2>"$errs/rs$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	((rc == 0)) || cat "$errs"/* >&2
	rm -rf "$errs"
	return "$rc"
}

topo_down() { ns_del "${NS_ALL[@]}"; }
