# shellcheck shell=bash
# Control-plane bench: wall time of installing rules and services, each in a fresh namespace.
#
#   cp_bench ROUNDS "WHATS"
# prints BENCH cp ROUND WHAT SECONDS and reports the case cp/WHAT (pass when the command
# succeeded and the result is there: the rule count, the table size, the service count).
#
#   l3dsr-add-63        63 x `l3dsr rule add --dscp N --vip VIP` (map mode, legacy iptables)
#   l3dsr-replace-63    one `l3dsr rule replace -f` of the same 63 entries
#   ipt-restore-63      one iptables-legacy-restore of 63 `-m dscp -j DADDR --set-daddr` rules
#   ipt-append-63       63 x `iptables-legacy -t raw -A ...` (how Yahoo's dsrtools did it)
#   l3dsr-replace-65536 `l3dsr rule replace -f` of 65,536 entries over a table that already
#                       holds 65,536 other ones
#   ipvsadm-1000        `ipvsadm -R` of 1,000 TCP services with 4 real servers each
#   ipvsgo-1000         the same through the Go IPVS client (build/ipvsload), if it was built

CP_NS=bx-cp

cp_ns() {
	[[ ! -e /run/netns/$CP_NS ]] || ip netns del "$CP_NS"
	ip netns add "$CP_NS" && ip -n "$CP_NS" link set lo up
}

cp_now() { echo "${EPOCHREALTIME/[,.]/}"; } # microseconds

cp_files() {
	local d i
	[[ -f $PWD/cp63.json ]] && return 0
	{
		echo "["
		for ((d = 1; d <= 63; d++)); do
			printf '%s{"family":"ipv4","dscp":%d,"local":"any","vip":"10.81.0.%d"}\n' "$([[ $d == 1 ]] || echo ,)" "$d" "$d"
		done
		echo "]"
	} >"$PWD/cp63.json"
	{
		echo "*raw"
		for ((d = 1; d <= 63; d++)); do echo "-A PREROUTING -m dscp --dscp $d -j DADDR --set-daddr 10.81.0.$d"; done
		echo COMMIT
	} >"$PWD/cp63.rules"
	for i in a b; do
		awk -v tag="$i" 'BEGIN { print "["
			for (l = 0; l < 1024; l++) for (d = 0; d < 64; d++)
				printf "%s{\"family\":\"ipv4\",\"dscp\":%d,\"local\":\"100.64.%d.%d\",\"vip\":\"10.%d.%d.%d\"}\n", \
					(l || d) ? "," : "", d, int(l / 256), l % 256, tag == "a" ? 82 : 83, d, l % 256
			print "]" }' >"$PWD/cp65536$i.json"
	done
	awk 'BEGIN { for (s = 0; s < 1000; s++) {
			vip = sprintf("10.90.%d.%d", int(s / 250), s % 250 + 1)
			printf "-A -t %s:80 -s wlc\n", vip
			for (r = 1; r <= 4; r++) printf "-a -t %s:80 -r 192.0.2.%d:80 -m\n", vip, r }
		}' >"$PWD/cp-ipvs.txt"
}

# Checks after each timed command: prints what is wrong, nothing when all is there.
cp_check() { # WHAT
	local n
	case $1 in
	l3dsr-add-63 | l3dsr-replace-63)
		n=$(ip netns exec "$CP_NS" "$L3DSR_BIN" rule list 2>&1 | grep -c '^ipv4')
		[[ $n == 63 ]] || echo "want 63 entries in 'l3dsr rule list', got $n"
		;;
	ipt-restore-63 | ipt-append-63)
		n=$(ip netns exec "$CP_NS" iptables-legacy -w -t raw -S PREROUTING 2>&1 | grep -c -- '-j DADDR')
		[[ $n == 63 ]] || echo "want 63 DADDR rules in raw PREROUTING, got $n"
		;;
	l3dsr-replace-65536)
		n=$(ip netns exec "$CP_NS" "$L3DSR_BIN" rule list 2>&1 | grep -c ' 10\.83\.')
		[[ $n == 65536 ]] || echo "want 65536 entries of the new table, got $n"
		;;
	ipvsadm-1000 | ipvsgo-1000)
		n=$(ip netns exec "$CP_NS" ipvsadm -S -n 2>&1 | grep -c -- '^-a ')
		[[ $n == 4000 ]] || echo "want 4000 real servers in 'ipvsadm -S', got $n"
		;;
	esac
}

cp_run() { # WHAT: the timed command; prints the microseconds on stdout, errors on stderr
	local t0 t1 d
	case $1 in
	l3dsr-add-63)
		t0=$(cp_now)
		for ((d = 1; d <= 63; d++)); do
			ip netns exec "$CP_NS" "$L3DSR_BIN" rule add --iptables legacy --dscp "$d" --vip "10.81.0.$d" >/dev/null || return 1
		done
		;;
	l3dsr-replace-63)
		t0=$(cp_now)
		ip netns exec "$CP_NS" "$L3DSR_BIN" rule replace --iptables legacy -f "$PWD/cp63.json" >/dev/null || return 1
		;;
	ipt-restore-63)
		t0=$(cp_now)
		ip netns exec "$CP_NS" iptables-legacy-restore -w <"$PWD/cp63.rules" || return 1
		;;
	ipt-append-63)
		t0=$(cp_now)
		for ((d = 1; d <= 63; d++)); do
			ip netns exec "$CP_NS" iptables-legacy -w -t raw -A PREROUTING -m dscp --dscp "$d" -j DADDR --set-daddr "10.81.0.$d" || return 1
		done
		;;
	l3dsr-replace-65536)
		ip netns exec "$CP_NS" "$L3DSR_BIN" rule replace --iptables legacy -f "$PWD/cp65536a.json" >/dev/null || return 1
		t0=$(cp_now)
		ip netns exec "$CP_NS" "$L3DSR_BIN" rule replace --iptables legacy -f "$PWD/cp65536b.json" >/dev/null || return 1
		;;
	ipvsadm-1000)
		t0=$(cp_now)
		ip netns exec "$CP_NS" ipvsadm -R <"$PWD/cp-ipvs.txt" || return 1
		;;
	ipvsgo-1000)
		[[ -x $L3DSR_BUILD/ipvsload ]] || { echo "$L3DSR_BUILD/ipvsload missing (make bench builds it)" >&2; return 1; }
		t0=$(cp_now)
		ip netns exec "$CP_NS" "$L3DSR_BUILD/ipvsload" -services 1000 -reals 4 || return 1
		;;
	*)
		echo "cp_run: unknown $1" >&2
		return 1
		;;
	esac
	t1=$(cp_now)
	echo $((t1 - t0))
}

declare -A CP_ERR CP_SEEN
cp_bench() { # ROUNDS WHATS
	local rounds=$1 r w us err
	local -a whats
	read -r -a whats <<<"$2"
	cp_files
	modprobe ip_vs 2>/dev/null
	for ((r = 1; r <= rounds; r++)); do
		for w in "${whats[@]}"; do
			log "cp round $r: $w"
			if ! err=$(cp_ns 2>&1); then
				CP_ERR[$w]="round $r: namespace: $err"
				continue
			fi
			if ! us=$(cp_run "$w" 2>"$PWD/cp.err"); then
				CP_ERR[$w]="round $r: failed: $(tail -n 3 "$PWD/cp.err" | tr '\n' ' ')"
				continue
			fi
			err=$(cp_check "$w")
			if [[ -n $err ]]; then
				CP_ERR[$w]="round $r: $err"
				continue
			fi
			printf 'BENCH\tcp\t%s\t%s\t%s\n' "$r" "$w" "$(awk -v u="$us" 'BEGIN { printf "%.3f", u / 1e6 }')"
			CP_SEEN[$w]=1
		done
	done
	# The map-mode rule in a namespace keeps xt_DADDR busy until the namespace is gone.
	if [[ -e /run/netns/$CP_NS ]]; then
		ip netns exec "$CP_NS" iptables-legacy -w -t raw -F 2>/dev/null
		ip netns del "$CP_NS"
	fi
	for w in "${whats[@]}"; do
		bench_case "cp/$w" "${CP_ERR[$w]:-}" "${CP_SEEN[$w]:-}"
	done
}
