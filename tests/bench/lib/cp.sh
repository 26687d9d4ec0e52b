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
#   dir-apply-N         `l3dsr apply` of a director of N dscp services (N = 63, 252, 1008 or 4032;
#                       2 reals each, codes 1-63 spread so that no real gets a code twice) from
#                       nothing: the services, their marks and their VIPs on lo
#   dir-apply1-N        the same apply again with one real's weight changed (the first apply is
#                       not timed)
#   dir-edit1-N         the same change as one command, `l3dsr director real edit --weight 2`
#                       (what an agent's health check sends), after the apply (not timed)
#   dir-base-N          the baseline: the same end state by `ip -batch` (the VIPs on lo),
#                       `ipvsadm -R` and one `nft -f` (table inet l3dsr as apply makes it)
#   rs-apply-N          `l3dsr apply` of a real server of N dscp VIPs with `local` keys (N = 63,
#                       1008 or 4032; VIP i is 10.110.G.C with DSCP C and local address
#                       100.65.G.1, G = i / 63 and C = i % 63 + 1: 63 codes per local address)
#                       from nothing: the VIPs on lo, their N table entries, one map-mode rule
#   rs-apply1-N         the same apply (not timed), then the apply of the same file with one
#                       VIP more (10.111.0.1, DSCP 1, local 100.65.0.2)
#   rs-base-N           the baseline: the same end state by `ip -batch` (the VIPs on lo) and one
#                       `l3dsr rule replace -f` of the N entries (which appends the map-mode rule)
# Before each rs row, not timed: the N / 63 local addresses (and 100.65.0.2 for rs-apply1-N) on
# a dummy device cpd0. The rs rows' l3dsr commands keep their record of what they set up in
# ./cp-state (L3DSR_STATE_DIR), emptied with each namespace: a new namespace may get the inode
# of a deleted one, and apply would take a stale record under /run/l3dsr for its state.

CP_NS=bx-cp

cp_ns() {
	[[ ! -e /run/netns/$CP_NS ]] || ip netns del "$CP_NS"
	rm -rf "$PWD/cp-state"
	ip netns add "$CP_NS" && ip -n "$CP_NS" link set lo up
}

# cp_l3dsr ARGS...: l3dsr in the namespace, with the rs rows' state directory.
cp_l3dsr() { L3DSR_STATE_DIR=$PWD/cp-state ip netns exec "$CP_NS" "$L3DSR_BIN" "$@"; }

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

# cp_dir_files N: the director files of N services (N a multiple of 63): cp-dir-N.yaml for
# apply, cp-dir1-N.yaml with the first real's weight 2, and the baseline's cp-dir-N.ip,
# cp-dir-N.ipvs and cp-dir-N.nft. Service i is VIP 10.100.G.C:80 with DSCP C, G = i / 63 and
# C = i % 63 + 1, with reals 10.2.G.1 and 10.2.G.2: 63 codes per pair of reals.
cp_dir_files() {
	local n=$1
	[[ -f $PWD/cp-dir-$n.nft ]] && return 0
	awk -v n="$n" -v dir="$PWD/cp-dir-$n" -v y1="$PWD/cp-dir1-$n.yaml" 'BEGIN {
		y = dir ".yaml"; ip = dir ".ip"; ipvs = dir ".ipvs"; nft = dir ".nft"
		print "director:\n  services:" > y; print "director:\n  services:" > y1
		print "table inet l3dsr {" > nft
		for (c = 1; c <= 63; c++)
			printf "\tchain dscp4_%d {\n\t\tip dscp set %d\n\t}\n", c, c > nft
		printf "\tmap vip4 {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\telements = {" > nft
		for (i = 0; i < n; i++) {
			g = int(i / 63); c = i % 63 + 1; vip = sprintf("10.100.%d.%d", g, c)
			for (f = 0; f < 2; f++) {
				out = f ? y1 : y
				printf "    - vip: %s:80\n      dscp: %d\n      reals:\n", vip, c > out
				printf "        - {address: 10.2.%d.1, weight: %d}\n", g, (f && i == 0) ? 2 : 1 > out
				printf "        - {address: 10.2.%d.2, weight: 1}\n", g > out
			}
			printf "address add %s/32 dev lo\n", vip > ip
			printf "-A -t %s:80 -s wlc\n", vip > ipvs
			for (r = 1; r <= 2; r++) printf "-a -t %s:80 -r 10.2.%d.%d:80 -m -w 1\n", vip, g, r > ipvs
			printf "%s %s . tcp . 80 : goto dscp4_%d", i ? "," : "", vip, c > nft
		}
		printf " }\n\t}\n" > nft
		printf "\tmap vip6 {\n\t\ttype ipv6_addr . inet_proto . inet_service : verdict\n\t}\n" > nft
		printf "\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n" > nft
		printf "\t\tip daddr . meta l4proto . th dport vmap @vip4\n" > nft
		printf "\t\tip6 daddr . meta l4proto . th dport vmap @vip6\n\t}\n}\n" > nft
	}'
}

# cp_rs_files N: the real-server files of N VIPs (N a multiple of 63): cp-rs-N.yaml for apply,
# cp-rs1-N.yaml with the VIP 10.111.0.1 more, cp-rs-N.local (ip -batch: the dummy device cpd0
# with the N / 63 local addresses), and the baseline's cp-rs-N.ip and cp-rs-N.json.
cp_rs_files() {
	local n=$1
	[[ -f $PWD/cp-rs-$n.json ]] && return 0
	awk -v n="$n" -v rs="$PWD/cp-rs-$n" -v y1="$PWD/cp-rs1-$n.yaml" 'BEGIN {
		y = rs ".yaml"; loc = rs ".local"; ip = rs ".ip"; js = rs ".json"
		print "realserver:\n  iptables: legacy\n  vips:" > y
		print "realserver:\n  iptables: legacy\n  vips:" > y1
		print "link add cpd0 type dummy\nlink set cpd0 up" > loc
		print "[" > js
		for (i = 0; i < n; i++) {
			g = int(i / 63); c = i % 63 + 1; vip = sprintf("10.110.%d.%d", g, c)
			if (c == 1) printf "address add 100.65.%d.1/32 dev cpd0\n", g > loc
			printf "    - {vip: %s, dscp: %d, local: 100.65.%d.1}\n", vip, c, g > y
			printf "    - {vip: %s, dscp: %d, local: 100.65.%d.1}\n", vip, c, g > y1
			printf "address add %s/32 dev lo\n", vip > ip
			printf "%s{\"family\":\"ipv4\",\"dscp\":%d,\"local\":\"100.65.%d.1\",\"vip\":\"%s\"}\n", \
				i ? "," : "", c, g, vip > js
		}
		print "    - {vip: 10.111.0.1, dscp: 1, local: 100.65.0.2}" > y1
		print "]" > js
	}'
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
	dir-*)
		cp_dir_check "${1##*-}" "$([[ $1 == dir-apply1-* || $1 == dir-edit1-* ]] && echo 1 || echo 0)"
		;;
	rs-*)
		n=${1##*-}
		[[ $1 != rs-apply1-* ]] || n=$((n + 1))
		cp_rs_check "$n"
		;;
	esac
}

# cp_rs_check N: N VIPs of 10.110/16 and 10.111/16 on lo, N entries in the table, one map-mode
# rule.
cp_rs_check() {
	local n=$1 x
	x=$(ip -n "$CP_NS" -4 addr show dev lo 2>&1 | grep -c ' 10\.11[01]\.')
	[[ $x == "$n" ]] || echo "want $n VIPs on lo, got $x"
	x=$(cp_l3dsr rule list 2>&1 | grep -c '^ipv4 .* 10\.11[01]\.')
	[[ $x == "$n" ]] || echo "want $n entries in 'l3dsr rule list', got $x"
	x=$(ip netns exec "$CP_NS" iptables-legacy -w -t raw -S PREROUTING 2>&1 | grep -c -- '-j DADDR --map')
	[[ $x == 1 ]] || echo "want one map-mode rule in raw PREROUTING, got $x"
}

# cp_dir_check N W2: N services with 2N reals, N marks and N VIPs on lo; W2 reals of weight 2.
cp_dir_check() {
	local n=$1 w2=$2 x
	x=$(ip netns exec "$CP_NS" ipvsadm -S -n 2>&1 | grep -c -- '^-A ')
	[[ $x == "$n" ]] || echo "want $n services in 'ipvsadm -S', got $x"
	x=$(ip netns exec "$CP_NS" ipvsadm -S -n 2>&1 | grep -c -- '^-a ')
	[[ $x == $((2 * n)) ]] || echo "want $((2 * n)) real servers in 'ipvsadm -S', got $x"
	x=$(ip netns exec "$CP_NS" ipvsadm -S -n 2>&1 | grep -c -- '-w 2$')
	[[ $x == "$w2" ]] || echo "want $w2 real servers of weight 2, got $x"
	x=$(ip netns exec "$CP_NS" nft list map inet l3dsr vip4 2>&1 | grep -o 'goto dscp4_' | wc -l)
	[[ $x == "$n" ]] || echo "want $n marks in map inet l3dsr vip4, got $x"
	x=$(ip -n "$CP_NS" -4 addr show dev lo 2>&1 | grep -c ' 10\.100\.')
	[[ $x == "$n" ]] || echo "want $n VIPs on lo, got $x"
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
	dir-apply-*)
		cp_dir_files "${1##*-}"
		t0=$(cp_now)
		ip netns exec "$CP_NS" "$L3DSR_BIN" apply -f "$PWD/cp-dir-${1##*-}.yaml" >/dev/null || return 1
		;;
	dir-edit1-*)
		cp_dir_files "${1##*-}"
		ip netns exec "$CP_NS" "$L3DSR_BIN" apply -f "$PWD/cp-dir-${1##*-}.yaml" >/dev/null || return 1
		t0=$(cp_now)
		ip netns exec "$CP_NS" "$L3DSR_BIN" director real edit --vip 10.100.0.1:80 --real 10.2.0.1 --weight 2 >/dev/null || return 1
		;;
	dir-apply1-*)
		cp_dir_files "${1##*-}"
		ip netns exec "$CP_NS" "$L3DSR_BIN" apply -f "$PWD/cp-dir-${1##*-}.yaml" >/dev/null || return 1
		t0=$(cp_now)
		ip netns exec "$CP_NS" "$L3DSR_BIN" apply -f "$PWD/cp-dir1-${1##*-}.yaml" >/dev/null || return 1
		;;
	dir-base-*)
		cp_dir_files "${1##*-}"
		t0=$(cp_now)
		ip -n "$CP_NS" -batch "$PWD/cp-dir-${1##*-}.ip" || return 1
		ip netns exec "$CP_NS" ipvsadm -R <"$PWD/cp-dir-${1##*-}.ipvs" || return 1
		ip netns exec "$CP_NS" nft -f "$PWD/cp-dir-${1##*-}.nft" || return 1
		;;
	rs-apply-*)
		cp_rs_files "${1##*-}"
		ip -n "$CP_NS" -batch "$PWD/cp-rs-${1##*-}.local" || return 1
		t0=$(cp_now)
		cp_l3dsr apply -f "$PWD/cp-rs-${1##*-}.yaml" >/dev/null || return 1
		;;
	rs-apply1-*)
		cp_rs_files "${1##*-}"
		ip -n "$CP_NS" -batch "$PWD/cp-rs-${1##*-}.local" || return 1
		ip -n "$CP_NS" address add 100.65.0.2/32 dev cpd0 || return 1
		cp_l3dsr apply -f "$PWD/cp-rs-${1##*-}.yaml" >/dev/null || return 1
		t0=$(cp_now)
		cp_l3dsr apply -f "$PWD/cp-rs1-${1##*-}.yaml" >/dev/null || return 1
		;;
	rs-base-*)
		cp_rs_files "${1##*-}"
		ip -n "$CP_NS" -batch "$PWD/cp-rs-${1##*-}.local" || return 1
		t0=$(cp_now)
		ip -n "$CP_NS" -batch "$PWD/cp-rs-${1##*-}.ip" || return 1
		cp_l3dsr rule replace --iptables legacy -f "$PWD/cp-rs-${1##*-}.json" >/dev/null || return 1
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
	# The map-mode rule in a namespace keeps xt_DADDR busy until the namespace is gone (the rs
	# rows' rule too; their dummy device goes with the namespace).
	if [[ -e /run/netns/$CP_NS ]]; then
		ip netns exec "$CP_NS" iptables-legacy -w -t raw -F 2>/dev/null
		ip netns exec "$CP_NS" ip6tables-legacy -w -t raw -F 2>/dev/null
		ip netns del "$CP_NS"
	fi
	rm -rf "$PWD/cp-state"
	for w in "${whats[@]}"; do
		bench_case "cp/$w" "${CP_ERR[$w]:-}" "${CP_SEEN[$w]:-}"
	done
}
