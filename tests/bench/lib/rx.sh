# shellcheck shell=bash
# Receive-path bench: pktgen (netif_receive) into eth0 of a fresh real-server namespace per
# configuration, counted at the UDP layer. Sourced by the bench scenarios after common.sh.
#
#   rx_bench ROUNDS COUNT "CONFIGS" "FAMS" "SIZES"
#
# prints one data line per measurement (tab-separated):
#   BENCH rx ROUND CONFIG FAM SIZE PPS SENT DELIVERED BASE_PPS
# where BASE_PPS is the rate of the same run (family, size, count) sent to the VIP in a second
# namespace without any netfilter table (baseline a), measured at the start of the round: each
# figure is a ratio to a baseline of the same boot and round. The configuration base-none (a
# fresh namespace without tables, like the baseline's) shows how close two such runs come.
# and reports the case rx/CONFIG-ipvFAM-SIZE: pass when every run produced a rate > 0 and the
# UDP layer got every packet sent, fail with the reason otherwise.
#
# The real server's eth0 has 203.0.113.2 and 2001:db8:e::2; the RIP the packets carry
# (203.0.113.30, 2001:db8:e::30) is NOT a local address and forwarding is off, so a packet
# reaches UDP only if it was rewritten to the VIP (on lo): delivered == sent proves that every
# packet was rewritten. Baselines send to the VIP directly.

RX_NS=bx-rs
RX_PEER=bx-peer
RX_BASE=bx-base
RX_BASE_PEER=bx-bpeer
RX_MAC=02:00:00:00:00:30
RX_RIP4=203.0.113.30 RX_VIP4=10.80.0.1 RX_DSCP4=21
RX_RIP6=2001:db8:e::30 RX_VIP6=2001:db8:80::1 RX_DSCP6=22
RX_LIB=$L3DSR_SRC/tests/bench/lib

rx_ns_down() { # NS PEER
	local del=
	[[ ! -e /run/netns/$1 ]] || del+="netns del $1"$'\n'
	[[ ! -e /run/netns/$2 ]] || del+="netns del $2"$'\n'
	[[ -z $del ]] || ip -batch - <<<"$del"
}

rx_ns_up() { # NS PEER
	rx_ns_down "$1" "$2"
	ip -batch - <<-EOF || return 1
		netns add $1
		netns add $2
		link add eth0 netns $1 address $RX_MAC type veth peer name p0 netns $2 address 02:00:00:00:00:01
	EOF
	# pktgen stops at once on a device without carrier: the peer must be up too.
	ip -n "$2" link set p0 up || return 1
	ip -n "$1" -batch - <<-EOF
		link set lo up
		link set eth0 up
		addr add 203.0.113.2/24 dev eth0
		addr add 2001:db8:e::2/64 dev eth0 nodad
		addr add $RX_VIP4/32 dev lo
		addr add $RX_VIP6/128 dev lo
	EOF
}

# The 63-rule layouts: 62 codes that miss, then the hit, as Yahoo's dsrtools wrote them.
rx_miss_codes() { # HIT: 62 DSCP codes other than HIT, 1..63
	local d n=0
	for ((d = 1; d <= 63 && n < 62; d++)); do
		((d == $1)) && continue
		echo "$d"
		n=$((n + 1))
	done
}

rx_rev0() { # NRULES
	local d in4="*raw" in6="*raw"
	if (($1 > 1)); then
		for d in $(rx_miss_codes "$RX_DSCP4"); do
			in4+=$'\n'"-A PREROUTING -m dscp --dscp $d -j DADDR --set-daddr 10.81.0.$d"
		done
		for d in $(rx_miss_codes "$RX_DSCP6"); do
			in6+=$'\n'"-A PREROUTING -m dscp --dscp $d -j DADDR --set-daddr 2001:db8:81::$d"
		done
	fi
	in4+=$'\n'"-A PREROUTING -m dscp --dscp $RX_DSCP4 -j DADDR --set-daddr $RX_VIP4"$'\n'COMMIT
	in6+=$'\n'"-A PREROUTING -m dscp --dscp $RX_DSCP6 -j DADDR --set-daddr $RX_VIP6"$'\n'COMMIT
	ip netns exec "$RX_NS" iptables-legacy-restore -w <<<"$in4" &&
		ip netns exec "$RX_NS" ip6tables-legacy-restore -w <<<"$in6"
}

rx_nft() { # rules1|rules63|map
	local d r4='' r6='' m4='' m6=''
	case $1 in
	rules63)
		for d in $(rx_miss_codes "$RX_DSCP4"); do r4+="ip dscp $d ip daddr set 10.81.0.$d notrack"$'\n'; done
		for d in $(rx_miss_codes "$RX_DSCP6"); do r6+="ip6 dscp $d ip6 daddr set 2001:db8:81::$d notrack"$'\n'; done
		;&
	rules1)
		r4+="ip dscp $RX_DSCP4 ip daddr set $RX_VIP4 notrack"
		r6+="ip6 dscp $RX_DSCP6 ip6 daddr set $RX_VIP6 notrack"
		;;
	map)
		for d in $(rx_miss_codes "$RX_DSCP4"); do m4+="$d : 10.81.0.$d, "; done
		# nft 1.0.6 compiles `ip6 daddr set ip6 dscp map @m` into a load of the first two header
		# bytes, a mask and a right shift by 6 of the register, which is in network byte order:
		# the key never matches (measured: nothing rewritten). So the IPv6 map is keyed by the
		# masked 16 bits as they are on the wire (DSCP << 6), with no shift (typeof the raw
		# payload; `nft list` prints the rule back as `ip6 dscp map @m`).
		for d in $(rx_miss_codes "$RX_DSCP6"); do m6+="$(printf 0x%04x $((d << 6))) : 2001:db8:81::$d, "; done
		m4="map m { type dscp : ipv4_addr; elements = { $m4$RX_DSCP4 : $RX_VIP4 }; }"
		m6="map m { typeof @nh,0,16 : ip6 daddr; elements = { $m6$(printf 0x%04x $((RX_DSCP6 << 6))) : $RX_VIP6 }; }"
		r4="ip daddr set ip dscp map @m notrack"
		r6="ip6 daddr set @nh,0,16 & 0x0fc0 map @m notrack"
		;;
	empty) ;;
	esac
	ip netns exec "$RX_NS" nft -f - <<-EOF
		table ip l3b {
			$m4
			chain pre {
				type filter hook prerouting priority raw; policy accept;
				$r4
			}
		}
		table ip6 l3b {
			$m6
			chain pre {
				type filter hook prerouting priority raw; policy accept;
				$r6
			}
		}
	EOF
}

# Map-mode tables: N entries per family (2N in the namespace's table), the hit entry
# (DSCP, local RIP) -> VIP among them. 63 = codes 1..63 on the RIP; more = all 64 codes on
# the RIP and on N/64 - 1 other local addresses.
rx_map_file() { # N FILE
	awk -v n="$1" -v rip4="$RX_RIP4" -v rip6="$RX_RIP6" -v d4="$RX_DSCP4" -v d6="$RX_DSCP6" \
		-v vip4="$RX_VIP4" -v vip6="$RX_VIP6" '
		function ent(fam, d, l, v) { printf "%s{\"family\":\"%s\",\"dscp\":%d,\"local\":\"%s\",\"vip\":\"%s\"}\n", sep, fam, d, l, v; sep = "," }
		BEGIN {
			print "["
			if (n == 1) {
				ent("ipv4", d4, rip4, vip4); ent("ipv6", d6, rip6, vip6)
			} else if (n == 63) {
				for (d = 1; d <= 63; d++) {
					ent("ipv4", d, rip4, d == d4 ? vip4 : "10.81.0." d)
					ent("ipv6", d, rip6, d == d6 ? vip6 : sprintf("2001:db8:81::%x", d))
				}
			} else {
				for (l = 0; l < n / 64; l++) {
					l4 = l == 0 ? rip4 : sprintf("100.64.%d.%d", int(l / 256), l % 256)
					l6 = l == 0 ? rip6 : sprintf("2001:db8:f::%x", l)
					for (d = 0; d < 64; d++) {
						ent("ipv4", d, l4, (l == 0 && d == d4) ? vip4 : sprintf("10.82.%d.%d", d, l % 256))
						ent("ipv6", d, l6, (l == 0 && d == d6) ? vip6 : sprintf("2001:db8:82::%x:%x", d, l))
					}
				}
			}
			print "]"
		}' >"$2"
}

rx_map() { # N
	[[ -f $PWD/map$1.json ]] || rx_map_file "$1" "$PWD/map$1.json"
	ip netns exec "$RX_NS" env L3DSR_IPTABLES=legacy "$L3DSR_BIN" rule replace -f "$PWD/map$1.json"
}

# The direct path (issue 18): the namespace switched to the module's own PRE_ROUTING hook first,
# then the same table as map-N. In direct mode `rule replace` appends no --map rule, and with
# iptables-nft looking for one creates no table (iptables-legacy's listing would create the raw
# table, which then stays hooked until its namespace goes: the first profile of this row showed
# ipt_do_table). A module without the direct path fails the mode command, and with it the
# configuration.
rx_map_direct() { # N
	[[ -f $PWD/map$1.json ]] || rx_map_file "$1" "$PWD/map$1.json"
	ip netns exec "$RX_NS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule mode direct &&
		ip netns exec "$RX_NS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule replace -f "$PWD/map$1.json"
}

# Addr-mode tables (issue 22): N any-DSCP entries per family, each keyed by its own local
# address; the hit one by the RIP the packets carry. The others are addresses the packets never
# go to, as on a real server with N VIPs.
rx_addr() { # N
	[[ -f $PWD/addr$1.json ]] || awk -v n="$1" -v rip4="$RX_RIP4" -v rip6="$RX_RIP6" \
		-v vip4="$RX_VIP4" -v vip6="$RX_VIP6" '
		function ent(fam, l, v) { printf "%s{\"family\":\"%s\",\"dscp\":\"any\",\"local\":\"%s\",\"vip\":\"%s\"}\n", sep, fam, l, v; sep = "," }
		BEGIN {
			print "["
			ent("ipv4", rip4, vip4); ent("ipv6", rip6, vip6)
			for (l = 1; l < n; l++) {
				ent("ipv4", sprintf("100.%d.%d.%d", 64 + int(l / 65536), int(l / 256) % 256, l % 256), sprintf("10.83.%d.%d", int(l / 256) % 256, l % 256))
				ent("ipv6", sprintf("2001:db8:f::%x", l), sprintf("2001:db8:83::%x", l))
			}
			print "]"
		}' >"$PWD/addr$1.json"
	ip netns exec "$RX_NS" env L3DSR_IPTABLES=legacy "$L3DSR_BIN" rule replace -f "$PWD/addr$1.json"
}

# The BPF backend (issue 17): map mode's tables of N entries per family, in the tc ingress
# program's maps instead of the module's table; `rule replace --backend bpf` installs it and
# attaches it to every link of the namespace but lo (eth0, where pktgen's packets arrive).
rx_bpf() { # N
	[[ -f $PWD/map$1.json ]] || rx_map_file "$1" "$PWD/map$1.json"
	ip netns exec "$RX_NS" "$L3DSR_BIN" rule replace --backend bpf -f "$PWD/map$1.json"
}

# IPIP decapsulation cannot be fed by pktgen directly: pktgen builds Ethernet/IP/UDP only and
# transmits only on Ethernet devices, bypassing routing, so it can neither build nor send an
# IPIP packet. The fwd-* configurations therefore put a sender namespace in front of the real
# server: pktgen (netif_receive) feeds the sender's eth0, the sender forwards to the real server
# over the veth, (ipip) encapsulating with the kernel's own ipip tunnel. veth hands the packet
# to the real server's backlog on the same CPU, and pktgen's per-packet local_bh_enable runs
# that backlog, so pktgen's rate still includes the real server's receive path. All of them pay
# the same sender forwarding; compare them with each other (fwd-plain is their baseline):
#   fwd-plain  forwarded to the VIP, no rule on the real server
#   fwd-ipip   forwarded into an ipip tunnel to the real server (tunl0 up, VIP on lo)
#   fwd-map-63 forwarded to the RIP with the DSCP; map mode with 63 entries on the real server
# IPv4 only (IPIP is IPv4 in IPv4).
#
# The same arrangement measures the rewriting configurations without the method's header copy
# (BENCHMARKS.md, Method): the sender's forwarding makes the header its own (skb_cow), so the
# real server gets an unshared skb with a private header, as from a NIC, and DADDR or nft write
# in place. fwd-CONFIG sends to the RIP with the DSCP and sets CONFIG (any direct
# configuration below) up on the real server.
rx_fwd() { # plain|ipip|CONFIG
	local s=$RX_PEER
	ip netns exec "$s" sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || return 1
	ip -n "$s" -batch - <<-EOF || return 1
		link set lo up
		link add eth0 address $RX_MAC type veth peer name x0
		link set x0 up
		link set eth0 up
		addr add 198.51.100.1/24 dev eth0
		addr add 203.0.113.1/24 dev p0
		neigh add 203.0.113.2 lladdr $RX_MAC dev p0 nud permanent
	EOF
	case $1 in
	plain) ip -n "$s" route add "$RX_VIP4/32" via 203.0.113.2 dev p0 || return 1 ;;
	base-* | pass-* | fwd-*)
		echo "rx_fwd: $1 cannot be set up behind the sender" >&2
		return 1
		;;
	ipip)
		ip -n "$s" -batch - <<-EOF || return 1
			tunnel add t0 mode ipip local 203.0.113.1 remote 203.0.113.2
			link set t0 up
			route add $RX_VIP4/32 dev t0
		EOF
		ip netns exec "$RX_NS" sysctl -q -w net.ipv4.conf.all.rp_filter=0 || return 1
		ip -n "$RX_NS" link set tunl0 up || return 1
		ip netns exec "$RX_NS" sysctl -q -w net.ipv4.conf.tunl0.rp_filter=0 || return 1
		;;
	*)
		ip -n "$s" route add "$RX_RIP4/32" via 203.0.113.2 dev p0 || return 1
		rx_config "$1" || return 1
		;;
	esac
}

# Configurations: NAME -> what goes into the fresh namespace. "direct" ones send to the VIP.
rx_config() {
	case $1 in
	base-none) ;;
	# The legacy raw table with empty chains: listing it creates it (iptable_raw hooks in).
	base-rawlegacy)
		ip netns exec "$RX_NS" iptables-legacy -w -t raw -L -n >/dev/null &&
			ip netns exec "$RX_NS" ip6tables-legacy -w -t raw -L -n >/dev/null
		;;
	base-rawnft) rx_nft empty ;;
	rev0-1) rx_rev0 1 ;;
	rev0-63) rx_rev0 63 ;;
	map-1 | map-63 | map-4096 | map-65536) rx_map "${1#map-}" ;;
	map-direct-1 | map-direct-63 | map-direct-4096 | map-direct-65536) rx_map_direct "${1#map-direct-}" ;;
	addr-1 | addr-4096 | addr-65536) rx_addr "${1#addr-}" ;;
	bpf-1 | bpf-63 | bpf-4096 | bpf-65536) rx_bpf "${1#bpf-}" ;;
	fwd-*) rx_fwd "${1#fwd-}" ;;
	# Ordinary traffic: what a configuration costs the packets it must leave alone.
	pass-none) ;;
	pass-*) rx_config "${1#pass-}" ;;
	nft-1) rx_nft rules1 ;;
	nft-63) rx_nft rules63 ;;
	nft-map) rx_nft map ;;
	*)
		echo "rx_config: unknown configuration $1" >&2
		return 1
		;;
	esac
}

rx_pg() { # NS FAM SIZE DST TCLASS COUNT [SNMPDIR]: "PPS SENT DELIVERED", or the error and status 1
	timeout 600 ip netns exec "$1" bash "$RX_LIB/pg.sh" "${@:2:5}" "$RX_MAC" "${@:7}" 2>&1
}

rx_measure() { # ROUND CONFIG FAM SIZE COUNT: one data line, or a reason in RX_ERR[case]
	local round=$1 cfg=$2 fam=$3 size=$4 count=$5 rip vip tc dst out bout c
	c="$cfg-ipv$fam-$size"
	if [[ $fam == 4 ]]; then
		rip=$RX_RIP4 vip=$RX_VIP4 tc=$(printf %02x $((RX_DSCP4 << 2)))
	else
		rip=$RX_RIP6 vip=$RX_VIP6 tc=$(printf %02x $((RX_DSCP6 << 2)))
	fi
	dst=$rip
	[[ $cfg != base-* ]] || dst=$vip
	# Addr mode needs no code: the client's DSCP (here 0) passes through.
	[[ $cfg != addr-* ]] || tc=00
	if [[ $cfg == pass-* ]]; then
		# A real server's own traffic: DSCP 0, to its own address on eth0, delivered locally.
		tc=00 dst=203.0.113.2
		[[ $fam == 4 ]] || dst=2001:db8:e::2
	fi
	bout=${RX_BASEOUT[$fam-$size]:-}
	if [[ -z $bout ]]; then
		RX_ERR[$c]="round $round: no baseline run for IPv$fam $size"
		return
	fi
	local pgns=$RX_NS snmp=()
	if [[ $cfg == fwd-* ]]; then
		# pktgen feeds the sender; the real server's counters are read through a process there.
		pgns=$RX_PEER snmp=("/proc/$RX_HOLD/net")
		[[ $cfg != fwd-plain && $cfg != fwd-ipip ]] || dst=$vip
	fi
	if ! out=$(rx_pg "$pgns" "$fam" "$size" "$dst" "$tc" "$count" "${snmp[@]}"); then
		RX_ERR[$c]="round $round: pktgen run failed: $out"
		return
	fi
	local pps sent deliv bpps bsent bdeliv
	read -r pps sent deliv <<<"$out"
	read -r bpps bsent bdeliv <<<"$bout"
	printf 'BENCH\trx\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$cfg" "$fam" "$size" "$pps" "$sent" "$deliv" "$bpps"
	if ((pps <= 0 || sent != count || bpps <= 0 || bsent != count)); then
		RX_ERR[$c]="round $round: rate $pps pps (baseline $bpps), $sent (baseline $bsent) of $count packets sent"
	elif ((deliv != sent || bdeliv != bsent)); then
		RX_ERR[$c]="round $round: $sent packets sent but $deliv reached UDP (baseline: $bdeliv of $bsent) (drops, or packets not rewritten)"
	fi
	RX_SEEN[$c]=1
}

# A process in the real server's namespace, whose /proc/PID/net the fwd-* runs read.
RX_HOLD=
rx_hold_stop() {
	[[ -n $RX_HOLD ]] || return 0
	kill "$RX_HOLD" 2>/dev/null
	wait "$RX_HOLD" 2>/dev/null
	RX_HOLD=
}

rx_baseline() { # ROUND FAM SIZE COUNT: the round's baseline run into RX_BASEOUT[FAM-SIZE]
	local fam=$2 vip=$RX_VIP4 tc out
	tc=$(printf %02x $((RX_DSCP4 << 2)))
	[[ $fam == 4 ]] || vip=$RX_VIP6 tc=$(printf %02x $((RX_DSCP6 << 2)))
	RX_BASEOUT[$fam-$3]=
	if ! out=$(rx_pg "$RX_BASE" "$fam" "$3" "$vip" "$tc" "$4"); then
		fail "rx/baseline-ipv$fam-$3" "round $1: baseline pktgen run failed: $out"
		return
	fi
	RX_BASEOUT[$fam-$3]=$out
}

declare -A RX_ERR RX_SEEN RX_BASEOUT
rx_bench() { # ROUNDS COUNT CONFIGS FAMS SIZES
	local rounds=$1 count=$2 r cfg fam size err
	local -a cfgs fams sizes
	read -r -a cfgs <<<"$3"
	read -r -a fams <<<"$4"
	read -r -a sizes <<<"$5"
	modprobe pktgen || { fail rx/setup "modprobe pktgen failed"; return; }
	modprobe ipip || { fail rx/setup "modprobe ipip failed"; return; }
	if ! err=$(rx_ns_up "$RX_BASE" "$RX_BASE_PEER" 2>&1); then
		fail rx/setup "baseline namespace: $err"
		return
	fi
	# Rounds outside, configurations inside: a slow spell of the shared host spreads over all
	# configurations instead of hitting one.
	for ((r = 1; r <= rounds; r++)); do
		log "rx round $r: baseline"
		for fam in "${fams[@]}"; do
			for size in "${sizes[@]}"; do
				rx_baseline "$r" "$fam" "$size" "$count"
			done
		done
		for cfg in "${cfgs[@]}"; do
			log "rx round $r: $cfg"
			rx_hold_stop
			if ! err=$(rx_ns_up "$RX_NS" "$RX_PEER" 2>&1); then
				for fam in "${fams[@]}"; do for size in "${sizes[@]}"; do
					RX_ERR[$cfg-ipv$fam-$size]="round $r: namespace setup failed: $err"
				done; done
				continue
			fi
			if ! err=$(rx_config "$cfg" 2>&1); then
				for fam in "${fams[@]}"; do for size in "${sizes[@]}"; do
					RX_ERR[$cfg-ipv$fam-$size]="round $r: configuration failed: $err"
				done; done
				continue
			fi
			if [[ $cfg == fwd-* ]]; then
				ip netns exec "$RX_NS" sleep 100000 >/dev/null 2>&1 &
				RX_HOLD=$!
			fi
			for fam in "${fams[@]}"; do
				for size in "${sizes[@]}"; do
					rx_measure "$r" "$cfg" "$fam" "$size" "$count"
				done
			done
		done
	done
	rx_hold_stop
	rx_ns_down "$RX_NS" "$RX_PEER"
	rx_ns_down "$RX_BASE" "$RX_BASE_PEER"
	local c
	for cfg in "${cfgs[@]}"; do
		for fam in "${fams[@]}"; do
			for size in "${sizes[@]}"; do
				c="$cfg-ipv$fam-$size"
				bench_case "rx/$c" "${RX_ERR[$c]:-}" "${RX_SEEN[$c]:-}"
			done
		done
	done
}
