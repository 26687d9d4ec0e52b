# shellcheck shell=bash
# End-to-end bench: iperf3 TCP goodput client -> router -> director -> router -> real server,
# replies straight back (DSR) or through the director (NAT). IPv4. The topology is the one of
# tests/scenarios/classic_dsr.sh (same addresses), built fresh for every variant and round:
#
#   dsr  IPVS NAT (-m) + DSCP mark in mangle on the director; rev0 DADDR rule on the real server
#   tun  IPVS tunnel (-i): IPIP to the RIP; tunl0 up on the real server (VIP on lo, rp_filter 0)
#   nat  IPVS NAT, no DSR: the router sends the real server's replies back to the director
#
#   e2e_bench ROUNDS SECONDS "VARIANTS"
# prints BENCH e2e ROUND VARIANT BITS_PER_SECOND MSS PMTU (MSS and path MTU of the client's
# data connection from `ss -ti` while it runs) and reports the case e2e/VARIANT.

E_CLI=bx-client E_RTR=bx-router E_DIR=bx-director E_RS=bx-realserver
E_CLI4=198.51.100.10 E_RTR_C4=198.51.100.1
E_DIR4=192.0.2.20 E_RTR_D4=192.0.2.1
E_RIP4=203.0.113.30 E_RTR_R4=203.0.113.1
E_VIP4=10.80.0.1 E_DSCP=21 E_PORT=5201

e_down() {
	local n del=
	for n in "$E_CLI" "$E_RTR" "$E_DIR" "$E_RS"; do
		[[ ! -e /run/netns/$n ]] && continue
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
		del+="netns del $n"$'\n'
	done
	[[ -z $del ]] || ip -batch - <<<"$del"
}

e_host() { # NS ADDR GATEWAY: lo and eth0 up, ADDR/24 on eth0, default route via GATEWAY
	ip -n "$1" -batch - <<-EOF
		link set lo up
		link set eth0 up
		addr add $2/24 dev eth0
		route add default via $3
	EOF
}

e_up() { # VARIANT
	local v=$1
	e_down
	ip -batch - <<-EOF || return 1
		netns add $E_CLI
		netns add $E_RTR
		netns add $E_DIR
		netns add $E_RS
		link add eth0 netns $E_CLI type veth peer name r-cli netns $E_RTR
		link add eth0 netns $E_DIR type veth peer name r-dir netns $E_RTR
		link add eth0 netns $E_RS type veth peer name r-rs netns $E_RTR
	EOF
	e_host "$E_CLI" "$E_CLI4" "$E_RTR_C4" || return 1
	ip netns exec "$E_RTR" sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=2 || return 1
	ip -n "$E_RTR" -batch - <<-EOF || return 1
		link set lo up
		link set r-cli up
		link set r-dir up
		link set r-rs up
		addr add $E_RTR_C4/24 dev r-cli
		addr add $E_RTR_D4/24 dev r-dir
		addr add $E_RTR_R4/24 dev r-rs
		route add $E_VIP4/32 via $E_DIR4
	EOF
	if [[ $v == nat ]]; then
		# Non-DSR: the real server's replies must pass the director to be translated back.
		ip -n "$E_RTR" -batch - <<-EOF || return 1
			rule add from $E_RIP4 iif r-rs lookup 100
			route add default via $E_DIR4 table 100
		EOF
	fi
	ip netns exec "$E_DIR" sysctl -q -w net.ipv4.ip_forward=1 || return 1
	ip -n "$E_DIR" -batch - <<-EOF || return 1
		link set lo up
		link set eth0 up
		addr add $E_DIR4/24 dev eth0
		addr add $E_VIP4/32 dev lo
		route add default via $E_RTR_D4
	EOF
	local fwd=-m
	[[ $v != tun ]] || fwd=-i
	ip netns exec "$E_DIR" ipvsadm -R <<-EOF || return 1
		-A -t $E_VIP4:$E_PORT -s wlc
		-a -t $E_VIP4:$E_PORT -r $E_RIP4:$E_PORT $fwd
	EOF
	ip netns exec "$E_DIR" sysctl -q -w net.ipv4.vs.conntrack=0 || return 1
	if [[ $v == dsr ]]; then
		ip netns exec "$E_DIR" iptables-legacy-restore -w <<-EOF || return 1
			*mangle
			-A PREROUTING -d $E_VIP4 -p tcp --dport $E_PORT -j DSCP --set-dscp $E_DSCP
			COMMIT
		EOF
	fi
	e_host "$E_RS" "$E_RIP4" "$E_RTR_R4" || return 1
	case $v in
	dsr)
		ip -n "$E_RS" addr add "$E_VIP4/32" dev lo || return 1
		ip netns exec "$E_RS" iptables-legacy-restore -w <<-EOF || return 1
			*raw
			-A PREROUTING -m dscp --dscp $E_DSCP -j DADDR --set-daddr $E_VIP4
			COMMIT
		EOF
		;;
	tun)
		# Decapsulated packets come in on tunl0 from a client routed out of eth0: the
		# reverse-path filter must be off for tunl0 (the kernel takes the larger of all/dev).
		ip -n "$E_RS" addr add "$E_VIP4/32" dev lo || return 1
		ip netns exec "$E_RS" sysctl -q -w net.ipv4.conf.all.rp_filter=0 || return 1
		ip -n "$E_RS" link set tunl0 up || return 1
		ip netns exec "$E_RS" sysctl -q -w net.ipv4.conf.tunl0.rp_filter=0 || return 1
		;;
	esac
	ip netns exec "$E_RS" iperf3 -s -1 -p "$E_PORT" >"$PWD/iperf3-server.log" 2>&1 &
	wait_for 10 bash -c "ip netns exec $E_RS ss -Htln | grep -q ':$E_PORT '" ||
		{ echo "iperf3 server did not listen: $(cat "$PWD/iperf3-server.log")"; return 1; }
}

# The data connection is the one with the most bytes sent.
e_ss() {
	ip netns exec "$E_CLI" ss -Htin dst "$E_VIP4" |
		awk '{ for (i = 1; i <= NF; i++) {
				if ($i ~ /^bytes_sent:/) { split($i, a, ":"); b = a[2] }
				if ($i ~ /^mss:/) { split($i, a, ":"); m = a[2] }
				if ($i ~ /^pmtu:/) { split($i, a, ":"); p = a[2] } }
			if (m != "" && b + 0 >= best) { best = b + 0; mss = m; pmtu = p } ; b = ""; m = ""; p = "" }
			END { print mss, pmtu }'
}

declare -A E_ERR E_SEEN
e2e_bench() { # ROUNDS SECONDS VARIANTS
	local rounds=$1 secs=$2 r v err bps mss pmtu ipid
	local -a vars
	read -r -a vars <<<"$3"
	modprobe ipip 2>/dev/null
	for ((r = 1; r <= rounds; r++)); do
		for v in "${vars[@]}"; do
			log "e2e round $r: $v"
			if ! err=$(e_up "$v" 2>&1); then
				E_ERR[$v]="round $r: setup failed: $err"
				continue
			fi
			ip netns exec "$E_CLI" timeout $((secs + 30)) iperf3 -c "$E_VIP4" -p "$E_PORT" -t "$secs" -J \
				>"$PWD/iperf3.json" 2>&1 &
			ipid=$!
			sleep $((secs > 2 ? secs - 1 : 1))
			read -r mss pmtu <<<"$(e_ss)"
			wait "$ipid"
			bps=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' \
				"$PWD/iperf3.json" 2>/dev/null)
			if [[ ! $bps =~ ^[0-9]+$ ]] || ((bps <= 0)) || [[ ! $mss =~ ^[0-9]+$ ]]; then
				E_ERR[$v]="round $r: no goodput/MSS: bps='$bps' mss='$mss' iperf3: $(tail -c 300 "$PWD/iperf3.json" | tr '\n' ' ')"
			else
				printf 'BENCH\te2e\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$bps" "$mss" "${pmtu:-?}"
				E_SEEN[$v]=1
			fi
			e_down
		done
	done
	for v in "${vars[@]}"; do
		bench_case "e2e/$v" "${E_ERR[$v]:-}" "${E_SEEN[$v]:-}"
	done
}
