# shellcheck shell=bash
# pkt_fuzz: mutated IPv4 and IPv6 packets at each rewriter on checksum.sh's forwarding path
# (tx -> rw -> sink, its namespaces and rules, reused by sourcing it), judged packet by packet.
#
# pkt_fuzz.d/gen.py builds the packets from a seed (random IHL and IPv4 options, short, long and
# padded lengths, UDP lengths that disagree, L4 headers cut at any offset, IPv6 extension-header
# chains with bogus lengths and next-header loops, first/middle/last/overlapping/tiny fragments,
# DSCP codes that match the rule or not, valid/zero/garbage L4 checksums, UDP without checksum;
# first, each L4 header cut at every offset); pkt_fuzz.d/fuzz.py sends them, captures them on rw's
# ingress and on sink, and pkt_fuzz.d/model.py judges each one as dropped, unchanged or rewritten,
# and whether that is allowed (see model.py).
#
# Rewriters (PKT_FUZZ_REWRITERS, default "rev0 map bpf"), each in fresh namespaces:
#   rev0  -m dscp --dscp N -j DADDR --set-daddr VIP (iptables and ip6tables)
#   map   -j DADDR --map, the entries added by l3dsr-nltest; IPv4's entry sets DSCP 0 (dscp_set)
#   bpf   l3dsr realserver up --backend bpf --ingress rw0
#   nft   nftables' `ip daddr set` stand-in, for trying the harness on a host without the module
#
# Cases: REWRITER-v4, REWRITER-v6 (every packet judged right; else the first wrong packet, its
# mutations, hexdumps and the replay command), no-splat (no BUG/WARNING/UBSAN/KASAN line in dmesg
# since the start). Variables: PKT_FUZZ_SEED (printed as seed=N; replays a run),
# PKT_FUZZ_COUNT (packets per rewriter and family, default 300), PKT_FUZZ_ONLY=FAMILY:INDEX (one
# packet, e.g. 4:17, with the seed of the failed run).
# Sourced after tests/lib/common.sh.

# shellcheck disable=SC2034 # read by checksum.sh
CK_LIB_ONLY=1
# shellcheck source=checksum.sh
source "$(dirname "${BASH_SOURCE[0]}")/checksum.sh"
PF_DIR=$L3DSR_SRC/tests/scenarios/pkt_fuzz.d
PKT_FUZZ_SEED=${PKT_FUZZ_SEED:-$((RANDOM << 15 | RANDOM))}
export PF_SEED=$PKT_FUZZ_SEED PF_COUNT=${PKT_FUZZ_COUNT:-300} PF_ONLY=${PKT_FUZZ_ONLY:-}
export PF_DST4=10.13.0.9 PF_DST6=fd00:13::9 PF_VIP4=$CK_VIP4 PF_VIP6=$CK_VIP6

# pf_rules REWRITER: the rewrite rules in rw (checksum.sh's, but for the map rule).
pf_rules() {
	case $1 in
	rev0) CK_REWRITER=daddr ck_rules ;;
	bpf | nft) CK_REWRITER=$1 ck_rules ;;
	map)
		ns "$CK_NS_RW" iptables -t raw -A PREROUTING -j DADDR --map &&
			ns "$CK_NS_RW" ip6tables -t raw -A PREROUTING -j DADDR --map &&
			"$CK_NLT" -n "$CK_NS_RW" add fam=inet dscp="$CK_DSCP4" vip="$CK_VIP4" dscp_set=0 &&
			"$CK_NLT" -n "$CK_NS_RW" add fam=inet6 dscp="$CK_DSCP6" vip="$CK_VIP6"
		;;
	*)
		echo "unknown rewriter '$1': use rev0, map, bpf or nft"
		return 1
		;;
	esac
}

# pf_run REWRITER: fresh namespaces and rules, then fuzz.py; relays its results.
pf_run() {
	local g=$1 err kind rest n d u r
	ns_del "$CK_NS_TX" "$CK_NS_RW" "$CK_NS_SINK"
	if ! err=$(ck_setup 2>&1 && ip -n "$CK_NS_RW" -batch - 2>&1 <<-EOF
		route add 10.13.0.0/24 via $CK_SINK4
		route add fd00:13::/64 via $CK_SINK6
	EOF
	); then
		fail "$g-setup" "building the namespaces failed: $(squash <<<"$err")"
		return
	fi
	# Crafted frames must reach the rule as CHECKSUM_NONE: no GRO or rx checksum check on rw0.
	if ! err=$(ns "$CK_NS_RW" ethtool -K "$CK_IF_RWIN" gro off rx off 2>&1 && pf_rules "$g" 2>&1); then
		fail "$g-rules" "loading the $g rules failed: $(squash <<<"$err")"
		return
	fi
	unset PF_DSCP_SET4
	if [[ $g == map ]]; then export PF_DSCP_SET4=0; fi
	local rc=
	while read -r kind rest; do
		case $kind in
		pass) pass "$rest" ;;
		fail) fail "${rest%% *}" "${rest#* }" ;;
		count)
			read -r _ n d u r <<<"$rest"
			log "${rest%% *}: $n packets: $d dropped, $u unchanged, $r rewritten"
			((pf_n += n, pf_d += d, pf_u += u, pf_r += r))
			;;
		info) log "$rest" ;;
		exit) rc=$rest ;;
		*) log "fuzz.py: $kind $rest" ;;
		esac
	done < <(PF_GROUP=$g "$PY" "$PF_DIR/fuzz.py" 2>"fuzz-$g.err"; echo "exit $?")
	if [[ $rc != 0 ]]; then
		fail "$g-fuzz-py" "fuzz.py exited ${rc:-?}: $(tail -n 5 "fuzz-$g.err" | squash)"
	fi
}

pf_main() {
	local g start=$SECONDS tag="pkt_fuzz start $$.$RANDOM" splat
	pf_n=0 pf_d=0 pf_u=0 pf_r=0
	echo "$tag" >/dev/kmsg
	log "seed=$PKT_FUZZ_SEED count=$PF_COUNT per rewriter and family; replay with PKT_FUZZ_SEED=$PKT_FUZZ_SEED"
	for g in ${PKT_FUZZ_REWRITERS:-rev0 map bpf}; do
		pf_run "$g"
	done
	log "$pf_n packets: $pf_d dropped, $pf_u unchanged, $pf_r rewritten (seed=$PKT_FUZZ_SEED, $((SECONDS - start))s)"
	splat=$(dmesg | sed -n "/$tag/,\$p" | grep -E -m1 'BUG:|WARNING:|UBSAN|KASAN')
	if [[ -n $splat ]]; then
		fail no-splat "dmesg after the fuzz (seed=$PKT_FUZZ_SEED): $splat"
	else
		pass no-splat
	fi
}

pf_main
