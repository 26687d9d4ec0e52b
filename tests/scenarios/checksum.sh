# shellcheck shell=bash
# checksum: the DADDR rewrite fixes every checksum, proved packet by packet on a forwarding path.
#
#   tx ──veth── rw ──veth── sink
#   tx0        rw0  rw1     sk0
#
# tx sends crafted packets (scapy) to rw's own address, the RIP, with a DSCP code. rw rewrites
# the destination to the VIP in raw PREROUTING (`-m dscp --dscp N -j DADDR --set-daddr VIP`,
# iptables and ip6tables), routes the packet out of rw1 (tx checksum offload off there, so a
# CHECKSUM_PARTIAL skb is completed in software and the result is on the wire) and sink, which
# owns the VIPs, receives it. checksum.d/wire.py captures each packet on rw's ingress (bytes
# before the rewrite, skb checksum state) and on sink's veth, and checks it with its own code
# (checksum.d/pktverify.py): see wire.py for the cases and skb states. sink's kernel and
# `tcpdump -vvv` judge the same packets again. Finally each rule's packet counter must equal the
# number of marked packets that reached rw.
#
# Cases: one per crafted packet or fragment train, named family-[extension headers-]protocol-
# variant[-state] ("v4-udp-zero-stays-zero", "v6-hop-dst-rt-frag-dst-tcp" where "frag" is an
# atomic fragment header, "v4-frags-udp" a datagram cut in fragments, "v6-udp-partial"; no
# state suffix means CHECKSUM_NONE), plus sink-kernel-no-csum-errors, sink-kernel-accepted-all,
# tcpdump-crosscheck, rule-counter-v4/-v6. CK_ONLY=REGEX runs only the matching cases.
#
# CK_REWRITER=bpf (checksum_bpf.sh) runs it with l3dsr's BPF backend on rw0's tc ingress
# (issue 17): `realserver up --backend bpf --ingress rw0` for each VIP, then the VIPs leave rw's
# lo again so that rw forwards the rewritten packets to sink as before.
#
# CK_REWRITER=direct (checksum_direct.sh) runs it with map mode's direct path (issue 18): the
# VIPs in rw's table by l3dsr-nltest, mode direct, and no iptables rule at all.
#
# CK_REWRITER=nft runs the same test with nftables' `ip daddr set` as the rewriter instead of the
# module: a stand-in for developing the test on a host that cannot load modules (nft does not
# fix DCCP checksums, so those cases fail there, as they should).
# Sourced after tests/lib/common.sh (pass, fail, ns, on_exit, log).

: "${L3DSR_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CK_DIR=$L3DSR_SRC/tests/scenarios/checksum.d
CK_REWRITER=${CK_REWRITER:-daddr}
CK_NLT=${L3DSR_BUILD:-}/map_kernel/l3dsr-nltest
PY=/usr/bin/python3

export CK_NS_TX=ck-tx-$$ CK_NS_RW=ck-rw-$$ CK_NS_SINK=ck-sink-$$
export CK_IF_TX=tx0 CK_IF_RWIN=rw0 CK_IF_RWOUT=rw1 CK_IF_SINK=sk0
export CK_MAC_TX=02:00:00:00:01:01 CK_MAC_RWIN=02:00:00:00:01:02
CK_MAC_RWOUT=02:00:00:00:02:01 CK_MAC_SINK=02:00:00:00:02:02
export CK_TX4=10.11.0.1 CK_RIP4=10.11.0.2 CK_VIP4=192.0.2.77
export CK_TX6=fd00:11::1 CK_RIP6=fd00:11::2 CK_VIP6=2001:db8:77::a
CK_RW4=10.12.0.1 CK_SINK4=10.12.0.2 CK_RW6=fd00:12::1 CK_SINK6=fd00:12::2
export CK_DSCP4=10 CK_DSCP6=12
export CK_OUT=$PWD

on_exit ns_del "$CK_NS_TX" "$CK_NS_RW" "$CK_NS_SINK"

# Few processes: each one costs a lot under TCG, so one `ip -batch` and one sysctl per namespace.
ck_setup() {
	local n
	for n in "$CK_NS_TX" "$CK_NS_RW" "$CK_NS_SINK"; do
		ip netns add "$n" || return 1
	done
	ip link add "$CK_IF_TX" netns "$CK_NS_TX" address "$CK_MAC_TX" type veth \
		peer name "$CK_IF_RWIN" netns "$CK_NS_RW" address "$CK_MAC_RWIN" || return 1
	ip link add "$CK_IF_RWOUT" netns "$CK_NS_RW" address "$CK_MAC_RWOUT" type veth \
		peer name "$CK_IF_SINK" netns "$CK_NS_SINK" address "$CK_MAC_SINK" || return 1

	# tx: sends to the RIP; TCP Fast Open without cookie puts data into the SYN (partial case).
	ns "$CK_NS_TX" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.tcp_fastopen=5 || return 1
	ip -n "$CK_NS_TX" -batch - <<-EOF || return 1
		link set lo up
		addr add $CK_TX4/24 dev $CK_IF_TX
		addr add $CK_TX6/64 dev $CK_IF_TX nodad
		link set $CK_IF_TX up
		neigh replace $CK_RIP4 lladdr $CK_MAC_RWIN dev $CK_IF_TX nud permanent
		neigh replace $CK_RIP6 lladdr $CK_MAC_RWIN dev $CK_IF_TX nud permanent
	EOF

	# rw: the real server's stack, forwarding the rewritten packets to sink.
	ns "$CK_NS_RW" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		"net.ipv4.conf.$CK_IF_RWIN.rp_filter=0" || return 1
	ip -n "$CK_NS_RW" -batch - <<-EOF || return 1
		link set lo up
		addr add $CK_RIP4/24 dev $CK_IF_RWIN
		addr add $CK_RIP6/64 dev $CK_IF_RWIN nodad
		addr add $CK_RW4/24 dev $CK_IF_RWOUT
		addr add $CK_RW6/64 dev $CK_IF_RWOUT nodad
		link set $CK_IF_RWIN up
		link set $CK_IF_RWOUT up
		route add $CK_VIP4/32 via $CK_SINK4
		route add $CK_VIP6/128 via $CK_SINK6
		neigh replace $CK_SINK4 lladdr $CK_MAC_SINK dev $CK_IF_RWOUT nud permanent
		neigh replace $CK_SINK6 lladdr $CK_MAC_SINK dev $CK_IF_RWOUT nud permanent
	EOF
	# The checksum must be on the wire when the packet leaves rw, not left to a "device".
	ns "$CK_NS_RW" ethtool -K "$CK_IF_RWOUT" tx off >/dev/null || return 1

	# sink: owns the VIPs, so its kernel validates what arrives; answers nothing.
	ns "$CK_NS_SINK" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 ||
		return 1
	ip -n "$CK_NS_SINK" -batch - <<-EOF || return 1
		link set lo up
		addr add $CK_SINK4/24 dev $CK_IF_SINK
		addr add $CK_SINK6/64 dev $CK_IF_SINK nodad
		addr add $CK_VIP4/32 dev lo
		addr add $CK_VIP6/128 dev lo nodad
		link set $CK_IF_SINK up
	EOF
	ns "$CK_NS_SINK" nft -f - <<-EOF || return 1
		table inet cksink {
			chain out { type filter hook output priority 0; policy drop; }
		}
	EOF
}

# The rewrite rules in rw: the module under test, or nftables as a stand-in (host only).
ck_rules() {
	if [[ $CK_REWRITER == nft ]]; then
		ns "$CK_NS_RW" nft -f - <<-EOF
			table ip ckraw {
				chain pre { type filter hook prerouting priority raw;
					ip dscp $CK_DSCP4 counter ip daddr set $CK_VIP4; }
			}
			table ip6 ckraw {
				chain pre { type filter hook prerouting priority raw;
					ip6 dscp $CK_DSCP6 counter ip6 daddr set $CK_VIP6; }
			}
		EOF
		return
	fi
	if [[ $CK_REWRITER == bpf ]]; then
		ns "$CK_NS_RW" "$L3DSR_BIN" realserver up --backend bpf --vip "$CK_VIP4" --dscp "$CK_DSCP4" \
			--ingress "$CK_IF_RWIN" &&
			ns "$CK_NS_RW" "$L3DSR_BIN" realserver up --backend bpf --vip "$CK_VIP6" --dscp "$CK_DSCP6" \
				--ingress "$CK_IF_RWIN" &&
			ip -n "$CK_NS_RW" addr del "$CK_VIP4/32" dev lo &&
			ip -n "$CK_NS_RW" addr del "$CK_VIP6/128" dev lo
		return
	fi
	if [[ $CK_REWRITER == direct ]]; then
		"$CK_NLT" -n "$CK_NS_RW" add fam=inet dscp="$CK_DSCP4" vip="$CK_VIP4" &&
			"$CK_NLT" -n "$CK_NS_RW" add fam=inet6 dscp="$CK_DSCP6" vip="$CK_VIP6" &&
			"$CK_NLT" -n "$CK_NS_RW" mode direct
		return
	fi
	ns "$CK_NS_RW" iptables -t raw -A PREROUTING -m dscp --dscp "$CK_DSCP4" -j DADDR --set-daddr "$CK_VIP4" &&
		ns "$CK_NS_RW" ip6tables -t raw -A PREROUTING -m dscp --dscp "$CK_DSCP6" -j DADDR --set-daddr "$CK_VIP6"
}

# Packets counted by the rewrite rule of family 4 or 6.
ck_rule_count() {
	if [[ $CK_REWRITER == nft ]]; then
		ns "$CK_NS_RW" nft list table "$([[ $1 == 4 ]] && echo ip || echo ip6)" ckraw |
			sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
		return
	fi
	if [[ $CK_REWRITER == bpf ]]; then
		ns "$CK_NS_RW" "$L3DSR_BIN" rule list -o json | jq "[.[] | select(.family == \"ipv$1\") | .packets] | add"
		return
	fi
	if [[ $CK_REWRITER == direct ]]; then
		"$CK_NLT" -n "$CK_NS_RW" get fam="$([[ $1 == 4 ]] && echo inet || echo inet6)" \
			dscp="$([[ $1 == 4 ]] && echo "$CK_DSCP4" || echo "$CK_DSCP6")" |
			sed -n 's/.* packets=\([0-9]*\).*/\1/p'
		return
	fi
	ns "$CK_NS_RW" "$([[ $1 == 4 ]] && echo iptables || echo ip6tables)" -t raw -L PREROUTING -n -v -x |
		awk '$3 == "DADDR" {print $1}'
}

ck_main() {
	local start=$SECONDS line kind name why c4='' c6='' got want f err
	if ! err=$(ck_setup 2>&1); then
		fail setup "building the namespaces failed: $err"
		return
	fi
	if ! err=$(ck_rules 2>&1); then
		fail rules "loading the $CK_REWRITER rewrite rules failed: $err"
		return
	fi
	log "namespaces and rules ready after $((SECONDS - start))s; running wire.py"
	# wire.py prints "pass NAME", "fail NAME REASON", "count FAMILY N", "info TEXT"; read as it
	# goes, so that results reach the bench even if the time limit cuts the run short.
	local rc=
	while IFS= read -r line; do
		kind=${line%% *}
		line=${line#* }
		case $kind in
		pass) pass "$line" ;;
		fail)
			name=${line%% *}
			why=${line#* }
			fail "$name" "$why"
			;;
		count) [[ ${line%% *} == 4 ]] && c4=${line#* } || c6=${line#* } ;;
		info) log "$line" ;;
		exit) rc=$line ;;
		*) log "wire.py: $kind $line" ;;
		esac
	done < <("$PY" "$CK_DIR/wire.py" 2>wire.err; echo "exit $?")
	if [[ $rc != 0 ]]; then
		fail wire-py "wire.py exited ${rc:-?}: $(tail -n 5 wire.err)"
		return
	fi
	for f in 4 6; do
		want=$([[ $f == 4 ]] && echo "${c4:-}" || echo "${c6:-}")
		got=$(ck_rule_count "$f")
		if [[ -z $want ]]; then
			fail "rule-counter-v$f" "wire.py reported no count of packets that reached rw"
		elif [[ $got == "$want" ]]; then
			pass "rule-counter-v$f"
		else
			fail "rule-counter-v$f" "the DSCP $([[ $f == 4 ]] && echo $CK_DSCP4 || echo $CK_DSCP6) rule counted '$got' packets, rw received $want marked packets for the RIP"
		fi
	done
	log "checksum scenario took $((SECONDS - start))s"
}

# pkt_fuzz.sh sources this file for its topology and rules (CK_LIB_ONLY=1) and runs its own main.
[[ -n ${CK_LIB_ONLY:-} ]] || ck_main
