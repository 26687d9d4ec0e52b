# shellcheck shell=bash
# End-to-end bench: iperf3 TCP goodput client -> router -> director -> router -> real server,
# replies straight back (DSR) or through the director (NAT). IPv4. The topology is
# tests/lib/topo.sh's (one real server, namespaces bx-*), built fresh for every variant and round:
#
#   dsr  IPVS NAT (-m) + DSCP mark in mangle on the director; rev0 DADDR rule on the real server
#   tun  IPVS tunnel (-i): IPIP to the RIP; tunl0 up on the real server (VIP on lo, rp_filter 0)
#   nat  IPVS NAT, no DSR: the router sends the real server's replies back to the director
#
#   e2e_bench ROUNDS SECONDS "VARIANTS"
# prints BENCH e2e ROUND VARIANT BITS_PER_SECOND MSS PMTU (MSS and path MTU of the client's
# data connection from `ss -ti` while it runs) and reports the case e2e/VARIANT.

topo_init bx- 4 1
E_VIP4=10.80.0.1 E_DSCP=21 E_PORT=5201

e_up() { # VARIANT
	local v=$1
	topo_down
	topo_up || return 1
	if [[ $v == nat ]]; then
		# Non-DSR: the real server's replies must pass the director to be translated back.
		ip -n "$NS_RTR" -batch - <<-EOF || return 1
			rule add from $RIP4 iif $RTR_IF_RS lookup 100
			route add default via $DIR4 table 100
		EOF
	fi
	ip netns exec "$NS_DIR" sysctl -q -w net.ipv4.ip_forward=1 || return 1
	ip -n "$NS_DIR" addr add "$E_VIP4/32" dev lo || return 1
	local fwd=-m
	[[ $v != tun ]] || fwd=-i
	ip netns exec "$NS_DIR" ipvsadm -R <<-EOF || return 1
		-A -t $E_VIP4:$E_PORT -s wlc
		-a -t $E_VIP4:$E_PORT -r $RIP4:$E_PORT $fwd
	EOF
	ip netns exec "$NS_DIR" sysctl -q -w net.ipv4.vs.conntrack=0 || return 1
	if [[ $v == dsr ]]; then
		ip netns exec "$NS_DIR" iptables-legacy-restore -w <<-EOF || return 1
			*mangle
			-A PREROUTING -d $E_VIP4 -p tcp --dport $E_PORT -j DSCP --set-dscp $E_DSCP
			COMMIT
		EOF
	fi
	case $v in
	dsr)
		ip -n "$NS_RS" addr add "$E_VIP4/32" dev lo || return 1
		ip netns exec "$NS_RS" iptables-legacy-restore -w <<-EOF || return 1
			*raw
			-A PREROUTING -m dscp --dscp $E_DSCP -j DADDR --set-daddr $E_VIP4
			COMMIT
		EOF
		;;
	tun)
		# Decapsulated packets come in on tunl0 from a client routed out of eth0: the
		# reverse-path filter must be off for tunl0 (the kernel takes the larger of all/dev).
		ip -n "$NS_RS" addr add "$E_VIP4/32" dev lo || return 1
		ip netns exec "$NS_RS" sysctl -q -w net.ipv4.conf.all.rp_filter=0 || return 1
		ip -n "$NS_RS" link set tunl0 up || return 1
		ip netns exec "$NS_RS" sysctl -q -w net.ipv4.conf.tunl0.rp_filter=0 || return 1
		;;
	esac
	ip netns exec "$NS_RS" iperf3 -s -1 -p "$E_PORT" >"$PWD/iperf3-server.log" 2>&1 &
	wait_for 10 bash -c "ip netns exec $NS_RS ss -Htln | grep -q ':$E_PORT '" ||
		{ echo "iperf3 server did not listen: $(cat "$PWD/iperf3-server.log")"; return 1; }
}

# The data connection is the one with the most bytes sent.
e_ss() {
	awk '{ for (i = 1; i <= NF; i++) {
				if ($i ~ /^bytes_sent:/) { split($i, a, ":"); b = a[2] }
				if ($i ~ /^mss:/) { split($i, a, ":"); m = a[2] }
				if ($i ~ /^pmtu:/) { split($i, a, ":"); p = a[2] } }
			if (m != "" && b + 0 >= best) { best = b + 0; mss = m; pmtu = p } ; b = ""; m = ""; p = "" }
			END { print mss, pmtu }'
}

declare -A E_ERR E_SEEN
e2e_bench() { # ROUNDS SECONDS VARIANTS
	local rounds=$1 secs=$2 r v err bps mss pmtu spid
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
			# ss samples the client's connections all along, from one shell in the namespace:
			# under TCG a process start can take longer than a short run lasts, so a sample
			# taken after a sleep can miss the data connection. Every variant pays the same
			# sampling cost, so their ratios stay fair.
			# shellcheck disable=SC2016 # expanded by the inner bash
			ip netns exec "$NS_CLI" bash -c 'while :; do ss -Htin dst "$1"; echo; sleep 0.5; done' _ "$E_VIP4" \
				>"$PWD/ss.log" 2>&1 &
			spid=$!
			wait_for 20 test -s "$PWD/ss.log"
			ip netns exec "$NS_CLI" timeout $((secs + 30)) iperf3 -c "$E_VIP4" -p "$E_PORT" -t "$secs" -J \
				>"$PWD/iperf3.json" 2>&1
			kill "$spid" 2>/dev/null
			wait "$spid" 2>/dev/null
			read -r mss pmtu <<<"$(e_ss <"$PWD/ss.log")"
			bps=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' \
				"$PWD/iperf3.json" 2>/dev/null)
			if [[ ! $bps =~ ^[0-9]+$ ]] || ((bps <= 0)) || [[ ! $mss =~ ^[0-9]+$ ]]; then
				E_ERR[$v]="round $r: no goodput/MSS: bps='$bps' mss='$mss' ss: $(grep -c . "$PWD/ss.log") lines iperf3: $(tail -c 300 "$PWD/iperf3.json" | tr '\n' ' ')"
			else
				printf 'BENCH\te2e\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$bps" "$mss" "${pmtu:-?}"
				E_SEEN[$v]=1
			fi
			topo_down
		done
	done
	for v in "${vars[@]}"; do
		bench_case "e2e/$v" "${E_ERR[$v]:-}" "${E_SEEN[$v]:-}"
	done
}
