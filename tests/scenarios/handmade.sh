# shellcheck shell=bash
# handmade: a real server set up by hand after the iptables-daddr recipe (issue 26), moved onto
# l3dsr without one failed request, for IPv4 and IPv6, with iptables-legacy and iptables-nft.
#
#   client ── router ─┬─ director   (l3dsr director service/real add: IPVS + nft DSCP mark)
#                     ├─ rs1        set up by hand with iptables-legacy / ip6tables-legacy
#                     └─ rs2        set up by hand with iptables-nft / ip6tables-nft
#   (tests/lib/topo.sh: two real servers, IPv4 and IPv6)
#
# Each real server serves, by hand: VIP A with DSCP 1 by a revision-0 rule in mangle INPUT
# (`-m dscp --dscp 1 -j DADDR --set-daddr A`, the rule that runs after conntrack), VIP B with
# DSCP 2 by one in raw PREROUTING; the IPv4 VIPs on lo with labels lo:1 and lo:2, the IPv6 ones
# on lo; the ARP sysctls; a filter rule with a conntrack match, so that conntrack is active in
# the namespace. rs1's VIPs are 10.0.0.31/.32 and 2001:db8:80::31/::32, rs2's .41/.42 and
# ::41/::42; the director marks each VIP with its code (TCP 80, UDP 7). director.d/server.py
# answers on the real servers; handmade.d/client.py asks every VIP over TCP and UDP, round after
# round, from before the first l3dsr command until after the move.
#
# Cases, for FAM in ipv4/ipv6 and B in legacy/nft (the server of that backend):
#   setup                       every setup command succeeded (else all cases fail with it)
#   FAM-B-show-handmade         `realserver show` exits 1, lists A and B as set up by hand with
#                               their rules (and A6/B6 for IPv6), and flags A's mangle INPUT rule
#                               with the move to raw PREROUTING as the fix
#   FAM-B-up-refused            `realserver up` of a new VIP with DSCP 1 (and with DSCP 2): exit 2,
#                               the error names the rule that maps the code (as iptables -S
#                               prints it); the map table, the raw and mangle rules and lo are
#                               unchanged
#   FAM-B-conntrack             after the refusal, conntrack holds VIP A (the answers of its
#                               UDP flows) and never the new VIP
#   FAM-B-up-same-vip           `realserver up` of B with DSCP 2 (what the raw rule serves):
#                               exit 0, the rule noted as left alone
#   FAM-B-down-keeps            `realserver down` of B afterwards: exit 0, says it kept B on lo
#                               and the DADDR rule; B is still on lo (label lo:2 for IPv4) and
#                               the rule still in raw PREROUTING
#   FAM-B-save                  `save --from-iptables` writes A and B of the family with their
#                               codes, `iptables: B`, and the -D command of each old rule
#   FAM-B-apply                 `apply --dry-run` of the file plans A and B and changes nothing;
#                               `apply` sets them up; the -D commands of the file delete the old
#                               rules (none left); `realserver show` then exits 0 with A and B
#                               as l3dsr's VIPs, ok, and no rule set up by hand
#   FAM-B-loop                  every TCP and UDP request to A and B of the family was answered
#                               from the VIP, before, during and after the move, with answers
#                               after the move too

set -u

topo_init hm- 46 2
BACKENDS=(legacy nft)
A4=(10.0.0.31 10.0.0.41) B4=(10.0.0.32 10.0.0.42) N4=(10.0.0.39 10.0.0.49)
A6=(2001:db8:80::31 2001:db8:80::41) B6=(2001:db8:80::32 2001:db8:80::42) N6=(2001:db8:80::39 2001:db8:80::49)
CODE_A=1 CODE_B=2
TCP_PORT=80 UDP_PORT=7
# Rounds of the client after the move, before it stops.
AFTER_ROUNDS=5

WORK=$PWD HERE=$(dirname "$0")
# 'realserver up' keeps its records by network namespace inode, which a namespace of an earlier
# scenario may have had: this scenario's own directory.
export L3DSR_STATE_DIR=$WORK/run-l3dsr
SERVER=$HERE/director.d/server.py CLIENT=$HERE/handmade.d/client.py BIN=$L3DSR_BIN
TOKEN=l3dsr-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 16)

SETUP_ERR=
BG_PIDS=() MOVED=()
on_exit teardown_all

# The hand-written rules hold references to xt_DADDR until their namespace goes: mangle is
# flushed too (teardown_all flushes raw), before it.
# shellcheck disable=SC2317 # run by on_exit
flush_mangle() {
	local i
	for i in 0 1; do
		[[ -e /run/netns/${RS_NS[i]} ]] || continue
		nsx "${RS_NS[i]}" "iptables-${BACKENDS[i]}" -w -t mangle -F 2>/dev/null
		nsx "${RS_NS[i]}" "ip6tables-${BACKENDS[i]}" -w -t mangle -F 2>/dev/null
	done
}
on_exit flush_mangle

director_setup() {
	local i v p
	for i in 0 1; do
		for v in "${A4[i]} $CODE_A ${RS_IP4[i]}" "${B4[i]} $CODE_B ${RS_IP4[i]}" \
			"[${A6[i]}] $CODE_A ${RS_IP6[i]}" "[${B6[i]}] $CODE_B ${RS_IP6[i]}"; do
			# shellcheck disable=SC2086 # three words on purpose
			set -- $v
			for p in "tcp:$TCP_PORT" "udp:$UDP_PORT"; do
				step nsx "$NS_DIR" "$BIN" director service add --vip "$1:${p#*:}" --proto "${p%%:*}" --dscp "$2" \
					--scheduler wlc || return 1
				step nsx "$NS_DIR" "$BIN" director real add --vip "$1:${p#*:}" --proto "${p%%:*}" --real "$3" \
					--weight 100 || return 1
			done
		done
	done
}

# hand_setup I: real server I as an operator sets it up by hand, with backend BACKENDS[I].
hand_setup() {
	local n=${RS_NS[$1]} ipt=iptables-${BACKENDS[$1]} ip6t=ip6tables-${BACKENDS[$1]}
	step nsx "$n" ip addr add "${A4[$1]}/32" dev lo label lo:1 || return 1
	step nsx "$n" ip addr add "${B4[$1]}/32" dev lo label lo:2 || return 1
	step nsx "$n" ip -6 addr add "${A6[$1]}/128" dev lo || return 1
	step nsx "$n" ip -6 addr add "${B6[$1]}/128" dev lo || return 1
	step nsx "$n" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 || return 1
	step nsx "$n" "$ipt" -w -t mangle -A INPUT -m dscp --dscp "$CODE_A" -j DADDR --set-daddr "${A4[$1]}" || return 1
	step nsx "$n" "$ipt" -w -t raw -A PREROUTING -m dscp --dscp "$CODE_B" -j DADDR --set-daddr "${B4[$1]}" || return 1
	step nsx "$n" "$ip6t" -w -t mangle -A INPUT -m dscp --dscp "$CODE_A" -j DADDR --set-daddr "${A6[$1]}" || return 1
	step nsx "$n" "$ip6t" -w -t raw -A PREROUTING -m dscp --dscp "$CODE_B" -j DADDR --set-daddr "${B6[$1]}" || return 1
	# A rule with a conntrack match makes conntrack active in the namespace; without a
	# target it only counts.
	step nsx "$n" "$ipt" -w -A INPUT -m conntrack --ctstate ESTABLISHED -m comment --comment l3dsr-ct || return 1
	step nsx "$n" "$ip6t" -w -A INPUT -m conntrack --ctstate ESTABLISHED -m comment --comment l3dsr-ct
}

# snapshot I: what a refused command must not change on real server I: the map table, the raw
# and mangle rules of both families and backends, the addresses of lo.
snapshot() {
	local n=${RS_NS[$1]} b t
	nsx "$n" "$BIN" rule list 2>&1 | awk '{print $1, $2, $3, $4}'
	for b in iptables-legacy ip6tables-legacy iptables-nft ip6tables-nft; do
		for t in raw mangle; do nsx "$n" "$b" -w -t "$t" -S 2>/dev/null; done
	done
	nsx "$n" ip -o addr show dev lo | awk '{print $3, $4, $NF}'
}

# conntrack_has I FAM ADDR: does real server I's conntrack table hold ADDR (family FAM)?
conntrack_has() {
	local n=${RS_NS[$1]} a=$3
	if command -v conntrack >/dev/null; then
		nsx "$n" conntrack -L -f "$2" 2>/dev/null | grep -Fq -- "=$a "
	else
		[[ $2 == ipv4 ]] || a=$(python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).exploded)' "$a")
		nsx "$n" cat /proc/net/nf_conntrack 2>/dev/null | grep -Fq -- "=$a "
	fi
}

# requests: how many requests the client made so far (a line each).
requests() { grep -c . "$WORK/loop.out" 2>/dev/null || echo 0; }
# shellcheck disable=SC2317 # run by wait_for
at_least() { (($(requests) >= $1)); }
# more_rounds K: wait (up to 180 s) until the client made K more rounds of all targets.
more_rounds() { wait_for 180 at_least $(($(requests) + $1 * ${#TARGETS[@]})); }

# fam_vars FAM I: for family FAM on real server I, its iptables binary (ipt), VIP A (a), VIP B
# (bb) and the new VIP (new).
fam_vars() {
	local b=${BACKENDS[$2]}
	if [[ $1 == ipv4 ]]; then
		ipt=iptables-$b a=${A4[$2]} bb=${B4[$2]} new=${N4[$2]}
	else
		ipt=ip6tables-$b a=${A6[$2]} bb=${B6[$2]} new=${N6[$2]}
	fi
}

# expect_lines CASE RC WANT_RC TEXT REGEX...: pass CASE if RC is WANT_RC and every extended
# REGEX matches a line of TEXT, else fail it naming what is missing.
expect_lines() {
	local c=$1 rc=$2 want=$3 text=$4 miss
	shift 4
	miss=$(missing "$text" "$@")
	if ((rc == want)) && [[ -z $miss ]]; then
		pass "$c"
	else
		fail "$c" "want exit $want${miss:+ and lines matching $miss}; got exit $rc: $(squash <<<"$text")"
	fi
}

# l3 ARGS: l3dsr in the real server of the backend at hand (n).
l3() { nsx "$n" "$BIN" "$@"; }

# ---------------------------------------------------------------------------------------------
ALL_CASES=(setup)
for b in "${BACKENDS[@]}"; do
	for f in ipv4 ipv6; do
		for c in show-handmade up-refused conntrack up-same-vip down-keeps save apply loop; do
			ALL_CASES+=("$f-$b-$c")
		done
	done
done

log "modules"
modprobe -a ip_vs ip_vs_wlc 2>>"$WORK/setup.log" || true
step topo_up
director_setup
hand_setup 0
hand_setup 1
TARGETS=()
for i in 0 1; do
	for a in "${A4[i]}" "${B4[i]}" "[${A6[i]}]" "[${B6[i]}]"; do
		TARGETS+=("tcp:$a:$TCP_PORT" "udp:$a:$UDP_PORT")
	done
done
for i in 0 1; do
	[[ -n $SETUP_ERR ]] && break
	(cd "$WORK" && exec ip netns exec "${RS_NS[i]}" python3 "$SERVER" "rs$((i + 1))" "$TOKEN" "$TCP_PORT" "$UDP_PORT" \
		"${A4[i]}" "${B4[i]}" "${A6[i]}" "${B6[i]}") >>"$WORK/server.rs$((i + 1)).log" 2>&1 &
	BG_PIDS+=($!)
	wait_for 30 grep -q listening "$WORK/server.rs$((i + 1)).log" ||
		SETUP_ERR="server.py in ${RS_NS[i]} did not start: $(squash <"$WORK/server.rs$((i + 1)).log")"
done
if [[ -z $SETUP_ERR ]]; then
	(exec timeout 900 ip netns exec "$NS_CLI" python3 "$CLIENT" "$TOKEN" "$WORK/loop.out" "$WORK/stop" 0.05 850 \
		"${TARGETS[@]}") 2>"$WORK/loop.err" &
	CLIENT_PID=$!
	BG_PIDS+=("$CLIENT_PID")
	more_rounds 2 || SETUP_ERR="the client made no 2 rounds in 180 s: $(tail -n 3 "$WORK/loop.out" 2>/dev/null | squash) $(squash <"$WORK/loop.err")"
fi
if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup

for i in 0 1; do
	b=${BACKENDS[i]} n=${RS_NS[i]}

	# --- show on the hand-made server
	shown=$(l3 realserver show 2>&1)
	shown_rc=$?
	for f in ipv4 ipv6; do
		fam_vars "$f" "$i"
		rule_a="$ipt -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr $a"
		rule_b="$ipt -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr $bb"
		expect_lines "$f-$b-show-handmade" "$shown_rc" 1 "$shown" '^SET UP BY HAND +DSCP +ON LO +RULE' \
			"^${a//./\\.} +$CODE_A +yes +${rule_a//./\\.}$" "^${bb//./\\.} +$CODE_B +yes +${rule_b//./\\.}$" \
			"^problem: VIP ${a//./\\.}: ${rule_a//./\\.} runs in mangle INPUT, after conntrack" \
			"fix: move it to raw PREROUTING: '$ipt -t raw -A PREROUTING -m dscp --dscp 0x01 -j DADDR --set-daddr ${a//./\\.}' then '$ipt -t mangle -D INPUT"

		# --- up of a new VIP with a code a hand-written rule maps elsewhere
		before=$(snapshot "$i")
		out1=$(l3 realserver up --vip "$new" --dscp "$CODE_A" 2>&1)
		rc1=$?
		out2=$(l3 realserver up --vip "$new" --dscp "$CODE_B" 2>&1)
		rc2=$?
		after=$(snapshot "$i")
		if ((rc1 == 2 && rc2 == 2)) && [[ $out1 == *"DSCP $CODE_A is mapped to VIP $a already, by a DADDR rule l3dsr did not write: $rule_a;"* &&
			$out2 == *"DSCP $CODE_B is mapped to VIP $bb already, by a DADDR rule l3dsr did not write: $rule_b;"* &&
			$before == "$after" ]]; then
			pass "$f-$b-up-refused"
		else
			fail "$f-$b-up-refused" "want exit 2 twice naming '$rule_a' and '$rule_b', nothing changed; got exit $rc1 '$(squash <<<"$out1")', exit $rc2 '$(squash <<<"$out2")', changed: $(diff <(echo "$before") <(echo "$after") | squash)"
		fi
		more_rounds 1
		if conntrack_has "$i" "$f" "$a" && ! conntrack_has "$i" "$f" "$new"; then
			pass "$f-$b-conntrack"
		else
			fail "$f-$b-conntrack" "want conntrack entries naming VIP $a and none naming $new; got $(nsx "$n" conntrack -L -f "$f" 2>&1 | head -n 8 | squash)"
		fi

		# --- up of the VIP and code the raw rule serves, then down
		out=$(l3 realserver up --vip "$bb" --dscp "$CODE_B" 2>&1)
		rc=$?
		if ((rc == 0)) && [[ $out == *"left alone the DADDR rule l3dsr did not write, which maps the code to the same VIP: $rule_b"* ]]; then
			pass "$f-$b-up-same-vip"
		else
			fail "$f-$b-up-same-vip" "want exit 0 noting '$rule_b'; got exit $rc: $(squash <<<"$out")"
		fi
		more_rounds 1
		out=$(l3 realserver down --vip "$bb" 2>&1)
		rc=$?
		lo=$(nsx "$n" ip -o addr show dev lo)
		rules=$(nsx "$n" "$ipt" -w -t raw -S PREROUTING 2>&1)
		label_ok=1
		[[ $f == ipv6 ]] || grep -Eq " ${bb//./\\.}/32 .* lo:2([ \\]|$)" <<<"$lo" || label_ok=0
		if ((rc == 0 && label_ok)) && [[ $out == *"kept $bb on lo: it was there before up"* &&
			$out == *"kept the DADDR rule l3dsr did not write: $rule_b"* && $lo == *" $bb/"* &&
			$'\n'$rules$'\n' == *$'\n'"${rule_b#* -t raw }"$'\n'* ]]; then
			pass "$f-$b-down-keeps"
		else
			fail "$f-$b-down-keeps" "want exit 0 saying it kept $bb on lo and '$rule_b', and both still there; got exit $rc '$(squash <<<"$out")', lo '$(squash <<<"$lo")', raw '$(squash <<<"$rules")'"
		fi
	done

	# --- the move: save, dry run, apply, then the old rules go, under the client loop
	saved=$(l3 save --from-iptables 2>&1)
	save_rc=$?
	printf '%s\n' "$saved" >"$WORK/l3dsr.$b.conf"
	before=$(snapshot "$i")
	dry=$(l3 apply --dry-run -f "$WORK/l3dsr.$b.conf" 2>&1)
	dry_rc=$?
	after=$(snapshot "$i")
	applied=$(l3 apply -f "$WORK/l3dsr.$b.conf" 2>&1)
	apply_rc=$?
	more_rounds 1
	del_out='' del_rc=0
	while read -r cmd; do
		# shellcheck disable=SC2086 # the command as save printed it, one word each
		del_out+=$(nsx "$n" $cmd 2>&1)$'\n' || del_rc=1
	done < <(sed -n 's/^#   \(ip6*tables-[a-z]* -t [a-z]* -D .*\)$/\1/p' "$WORK/l3dsr.$b.conf")
	left=$(for t in iptables-$b ip6tables-$b; do
		nsx "$n" "$t" -w -t raw -S
		nsx "$n" "$t" -w -t mangle -S
	done 2>&1 | grep -e '--set-daddr')
	more_rounds 1
	final=$(l3 realserver show 2>&1)
	final_rc=$?
	for f in ipv4 ipv6; do
		fam_vars "$f" "$i"
		expect_lines "$f-$b-save" "$save_rc" 0 "$saved" "^  iptables: $b$" \
			"^    - vip: ${a//./\\.} # by hand: $b mangle INPUT rule 1$" \
			"^    - vip: ${bb//./\\.} # by hand: $b raw PREROUTING rule 1$" "^      dscp: $CODE_A$" "^      dscp: $CODE_B$" \
			"^#   $ipt -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr ${a//./\\.}$" \
			"^#   $ipt -t raw -D PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr ${bb//./\\.}$"
		miss=$(missing "$dry" "^plan \(dry run, nothing changed\)" "set up VIP ${a//./\\.} \(dscp, DSCP $CODE_A\)" \
			"set up VIP ${bb//./\\.} \(dscp, DSCP $CODE_B\)")
		miss+=$(missing "$applied" "^set up VIP ${a//./\\.} \(dscp, DSCP $CODE_A\)" "^set up VIP ${bb//./\\.} \(dscp, DSCP $CODE_B\)")
		miss+=$(missing "$final" "^${a//./\\.} +dscp +$CODE_A +any +- +ok " "^${bb//./\\.} +dscp +$CODE_B +any +- +ok ")
		if ((dry_rc == 0 && apply_rc == 0 && del_rc == 0 && final_rc == 0)) && [[ -z $miss && $before == "$after" && -z $left &&
			$final != *"SET UP BY HAND"* ]]; then
			pass "$f-$b-apply"
		else
			fail "$f-$b-apply" "want dry run (exit 0, nothing changed), apply (exit 0), the -D commands (exit 0, no --set-daddr rule left), then show exit 0 with both VIPs ok and nothing by hand; missing: $miss; got dry run $dry_rc '$(squash <<<"$dry")' changed '$(diff <(echo "$before") <(echo "$after") | squash)'; apply $apply_rc '$(squash <<<"$applied")'; -D $del_rc '$(squash <<<"$del_out")' left '$(squash <<<"$left")'; show $final_rc '$(squash <<<"$final")'"
		fi
	done
	MOVED[i]=$(requests)
done

more_rounds "$AFTER_ROUNDS"
touch "$WORK/stop"
wait "$CLIENT_PID"
for i in 0 1; do
	b=${BACKENDS[i]}
	for f in ipv4 ipv6; do
		fam_vars "$f" "$i"
		hosts=("$a" "$bb")
		bad='' total=0 fails=0 after=0
		for h in "${hosts[@]}"; do
			for p in tcp udp; do
				t=$(grep -c " $p $h " "$WORK/loop.out")
				e=$(grep -c " $p $h fail " "$WORK/loop.out")
				late=$(tail -n +"$((MOVED[i] + 1))" "$WORK/loop.out" | grep -c " $p $h ok ")
				total=$((total + t)) fails=$((fails + e))
				((late > 0)) || bad+="no answer over $p from $h after the move; "
				((after += late))
			done
		done
		if ((fails == 0 && total > 0)) && [[ -z $bad ]]; then
			pass "$f-$b-loop"
		else
			fail "$f-$b-loop" "want every request to ${hosts[*]} answered, answers after the move too; got $fails failed of $total, $after after the move; $bad$(grep -m 3 -e " tcp ${hosts[0]} fail " -e " udp ${hosts[0]} fail " -e " tcp ${hosts[1]} fail " -e " udp ${hosts[1]} fail " "$WORK/loop.out" | squash) $(squash <"$WORK/loop.err")"
		fi
	done
done
exit 0
