# shellcheck shell=bash
# iptables_rules: the DADDR target as an administrator meets it through iptables and ip6tables,
# for both back ends (legacy x_tables, and nf_tables through nft_compat) and both families.
#
#   save/restore     rules in raw PREROUTING (decimal and hex DSCP) save as exactly
#                    "-j DADDR --set-daddr VIP", reload after a flush, and save the same again
#   traffic          after the reload a datagram with a rule's DSCP reaches a socket bound to
#                    that rule's VIP; one with another DSCP does not
#   list/find        `-L` shows "DADDR set VIP"; -C finds a rule, -D by spec tells VIPs apart
#   nft              `nft list` shows the rules as xt compat targets
#   mangle           mangle PREROUTING and INPUT are accepted
#   user chain       a user chain holding DADDR may be jumped to from raw PREROUTING, not OUTPUT
#   kernel refusals  every other place fails, adds nothing, and the kernel log names it
#   user refusals    wrong family, no address, a host name, unspecified, multicast, no option:
#                    exit 2 with a message naming the value, and nothing reaches the kernel
#   yahoo            a restore file in iptables-daddr's "--set-daddr=ADDR" spelling loads
#   cleanup          every table is emptied again, for each back end and family
#
# The rules live in a server namespace of our own, the datagrams come from a client namespace;
# deleting them at the end drops whatever a failed case left. Legacy and nft rules coexist in
# the kernel, so each back end empties its tables before the next one runs. Every process costs
# a fraction of a second under TCG: checks use bash's own string tests, and one iptables-save
# or dmesg serves several cases where it can.
# Sourced after tests/lib/common.sh (pass, fail, expect_eq, ns, on_exit, log).

PORT=5000
SRV=l3ipt-srv-$$
CLI=l3ipt-cli-$$
SRV4=10.99.0.2 CLI4=10.99.0.1 SRV6=fd00:99::2 CLI6=fd00:99::1
VIPS4=(10.0.0.1 10.0.0.2 10.0.0.3)
VIPS6=(fd00:ffff::1 fd00:ffff::2 fd00:ffff::3)

# One line of output for a failure reason.

# has_line TEXT LINE: does TEXT hold LINE as a whole line?
has_line() { [[ $'\n'"$1"$'\n' == *$'\n'"$2"$'\n'* ]]; }

# normalize SAVE-OUTPUT: without the comment lines, chain counters zeroed.
normalize() {
	local l out=''
	while IFS= read -r l; do
		[[ $l == '#'* ]] && continue
		[[ $l =~ ^(:[^ ]+ [^ ]+ )\[[0-9]+:[0-9]+\]$ ]] && l="${BASH_REMATCH[1]}[0:0]"
		out+=$l$'\n'
	done <<<"$1"
	printf '%s' "$out"
}

# rules_of SAVE-OUTPUT TABLE CHAIN: the rule lines of TABLE's CHAIN, one per line.
rules_of() {
	local l in_t=0 out=''
	while IFS= read -r l; do
		[[ $l == '*'* ]] && { [[ $l == "*$2" ]] && in_t=1 || in_t=0; }
		((in_t)) && [[ $l == "-A $3 "* ]] && out+=$l$'\n'
	done <<<"$1"
	printf '%s' "$out"
}

# deliver.py SRV CLI DST PORT DSCP=VIP...: for each pair, bind VIP:PORT in namespace SRV, send
# datagrams with DSCP from namespace CLI to DST:PORT (the server's own address) and print
# "ok DSCP VIP: ..." if one reached the VIP socket, else "no DSCP VIP: ...". Only DADDR can
# take them there. One process for both ends and all pairs: a python start costs seconds under
# TCG, and a socket bound before the first datagram leaves needs no readiness handshake.
cat >deliver.py <<'EOF'
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def enter(name):
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        err = ctypes.get_errno()
        raise OSError(err, "setns %s: %s" % (name, os.strerror(err)))
    os.close(fd)
srv, cli, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for pair in sys.argv[5:]:
    dscp, vip = pair.split("=", 1)
    dscp = int(dscp, 0)
    fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
    enter(srv)
    r = socket.socket(fam, socket.SOCK_DGRAM)
    r.bind((vip, port))
    r.settimeout(0.5)
    enter(cli)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
    got = None
    for i in range(4):
        s.sendto(b"dscp %d try %d" % (dscp, i), (dst, port))
        try:
            data, peer = r.recvfrom(512)
        except socket.timeout:
            continue
        got = "%s from %s" % (data.decode(), peer[0])
        break
    if got:
        print("ok %d %s: %s" % (dscp, vip, got))
    else:
        print("no %d %s: nothing reached %s:%d in 4 tries" % (dscp, vip, vip, port))
    r.close()
    s.close()
EOF

deliver() { python3 deliver.py "$SRV" "$CLI" "$SRV_ADDR" "$PORT" "$@" 2>&1; }

# check_delivery CASE WANT(ok|no) DSCP VIP DELIVER-OUTPUT
check_delivery() {
	local status d v rest
	while read -r status d v rest; do
		[[ $d == "$3" && $v == "$4:" ]] || continue
		if [[ $status == "$2" ]]; then
			pass "$1"
		elif [[ $2 == ok ]]; then
			fail "$1" "DSCP $3 should have been taken to $4: $rest"
		else
			fail "$1" "DSCP $3 has no DADDR rule, yet a datagram reached $4: $rest"
		fi
		return
	done <<<"$5"
	fail "$1" "deliver.py reported nothing for DSCP $3 -> $4: $(squash <<<"$5")"
}

# shellcheck disable=SC2317 # called through on_exit
cleanup_netns() {
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	return 0
}
on_exit cleanup_netns

# Client and server joined by a veth pair with both families; the VIPs on the server's lo.
setup_netns() {
	local v srv_cmds="link set lo up
addr add $SRV4/24 dev s0
addr add $SRV6/64 dev s0 nodad
link set s0 up"
	for v in "${VIPS4[@]}"; do srv_cmds+=$'\n'"addr add $v/32 dev lo"; done
	for v in "${VIPS6[@]}"; do srv_cmds+=$'\n'"addr add $v/128 dev lo"; done
	ip netns add "$SRV" && ip netns add "$CLI" &&
		ip link add c0 netns "$CLI" type veth peer name s0 netns "$SRV" &&
		ip -n "$SRV" -batch - <<<"$srv_cmds" &&
		ip -n "$CLI" -batch - <<<"link set lo up
addr add $CLI4/24 dev c0
addr add $CLI6/64 dev c0 nodad
link set c0 up"
}

# The log line for a place the kernel refuses. DADDR's .hooks allow PREROUTING and INPUT, so
# x_tables itself refuses the other hooks before DADDR's checkentry runs (under nft_compat too,
# which hands checkentry the base chain's hook); checkentry refuses the allowed hooks in a
# table other than raw and mangle.
kernel_refusal_pattern() { # TABLE CHAIN
	local proto=ip_tables
	[[ $FAM == 6 ]] && proto=ip6_tables
	case "$2" in
	PREROUTING | INPUT)
		echo "DADDR: not valid in table $1 \\(hook mask 0x[0-9a-f]+\\): use table raw chain PREROUTING" ;;
	*)
		echo "$proto: DADDR target: used from hooks $2, but only usable from PREROUTING/INPUT" ;;
	esac
}

# The whole set of cases for one back end (legacy, nft) and one family (4, 6).
run_variant() {
	local be=$1 sfx ipt out rc pat t c i want got bad msg name u ok
	local -a VIPS
	FAM=$2
	sfx=$be-ipv$FAM
	if [[ $FAM == 4 ]]; then
		ipt=iptables-$be
		VIPS=("${VIPS4[@]}")
		SRV_ADDR=$SRV4
	else
		ipt=ip6tables-$be
		VIPS=("${VIPS6[@]}")
		SRV_ADDR=$SRV6
	fi
	log "=== $ipt"

	# --- add, save, flush, restore, save again
	local dscps=(1 2 0x0a) saved=(0x01 0x02 0x0a) save1 save2
	ok=1
	for i in 0 1 2; do
		if ! out=$(ns "$SRV" "$ipt" -t raw -A PREROUTING -m dscp --dscp "${dscps[i]}" \
			-j DADDR --set-daddr "${VIPS[i]}" 2>&1); then
			fail "add-raw-prerouting-$sfx" "--dscp ${dscps[i]} --set-daddr ${VIPS[i]}: $(squash <<<"$out")"
			ok=0
		fi
	done
	((ok)) && pass "add-raw-prerouting-$sfx"

	save1=$(ns "$SRV" "$ipt-save" -t raw 2>&1)
	ok=1
	for i in 0 1 2; do
		want="-A PREROUTING -m dscp --dscp ${saved[i]} -j DADDR --set-daddr ${VIPS[i]}"
		if ! has_line "$save1" "$want"; then
			fail "save-format-$sfx" "no line '$want' in $ipt-save: $(grep -- DADDR <<<"$save1" | squash)"
			ok=0
		fi
	done
	((ok)) && pass "save-format-$sfx"
	printf '%s\n' "$save1" >"save-$sfx.rules"

	# The restore replaces the table whatever the flush did; resave-identical and the
	# traffic below show the rules came back from the file.
	if out=$(ns "$SRV" "$ipt" -t raw -F 2>&1); then
		pass "flush-$sfx"
	else
		fail "flush-$sfx" "$ipt -t raw -F: $(squash <<<"$out")"
	fi
	if out=$(ns "$SRV" "$ipt-restore" <"save-$sfx.rules" 2>&1); then
		pass "restore-$sfx"
	else
		fail "restore-$sfx" "$ipt-restore of its own save output: $(squash <<<"$out")"
	fi
	save2=$(ns "$SRV" "$ipt-save" -t raw 2>&1)
	if [[ "$(normalize "$save1")" == "$(normalize "$save2")" ]]; then
		pass "resave-identical-$sfx"
	else
		fail "resave-identical-$sfx" "save after restore differs: $(diff \
			<(normalize "$save1") <(normalize "$save2") | squash)"
	fi

	# --- the reloaded rules act on packets, the decimal and the hex DSCP alike; DSCP 3 has
	# no rule, so its datagram must not reach the VIP (the control that the check can fail)
	out=$(deliver 3="${VIPS[0]}" 1="${VIPS[0]}" 10="${VIPS[2]}")
	check_delivery "traffic-control-no-rule-$sfx" no 3 "${VIPS[0]}" "$out"
	check_delivery "traffic-after-restore-dscp1-$sfx" ok 1 "${VIPS[0]}" "$out"
	check_delivery "traffic-after-restore-dscp0x0a-$sfx" ok 10 "${VIPS[2]}" "$out"

	# --- -L prints the VIP
	out=$(ns "$SRV" "$ipt" -t raw -L PREROUTING -n 2>&1)
	if [[ $out =~ DADDR\ set\ ${VIPS[0]//./\\.}( |$'\n'|$) ]]; then
		pass "list-$sfx"
	else
		fail "list-$sfx" "no 'DADDR set ${VIPS[0]}' in -L: $(squash <<<"$out")"
	fi

	# --- rules are found by their spec, VIP included (userspacesize covers the address).
	# The negative half uses -D: ip6tables-legacy 1.8.9's -C ignores match and target data
	# altogether (it says yes to any rule with the same target name); -D does not.
	if ! out=$(ns "$SRV" "$ipt" -t raw -C PREROUTING -m dscp --dscp 0x0a -j DADDR \
		--set-daddr "${VIPS[2]}" 2>&1); then
		fail "find-by-spec-$sfx" "-C of an existing rule failed: $(squash <<<"$out")"
	elif ns "$SRV" "$ipt" -t raw -D PREROUTING -m dscp --dscp 0x0a -j DADDR \
		--set-daddr "${VIPS[1]}" >/dev/null 2>&1; then
		fail "find-by-spec-$sfx" "-D deleted a rule although its VIP is ${VIPS[2]}, not ${VIPS[1]}"
	else
		pass "find-by-spec-$sfx"
	fi

	# --- nft shows the rules as xt compat targets: iptables-nft turns the DSCP match into
	# native nft, the target stays opaque (nft shows no VIP)
	if [[ $be == nft ]]; then
		local nfam=ip
		[[ $FAM == 6 ]] && nfam=ip6
		out=$(ns "$SRV" nft list chain "$nfam" raw PREROUTING 2>&1)
		log "nft list chain $nfam raw PREROUTING:"$'\n'"$out"
		ok=1
		for i in 0 1 2; do
			[[ $out =~ $'\n'[[:space:]]*"$nfam dscp ${saved[i]} counter packets "[0-9]+" bytes "[0-9]+" xt target "\"?DADDR\"?$'\n' ]] || ok=0
		done
		if ((ok)); then
			pass "nft-list-$sfx"
		else
			fail "nft-list-$sfx" "want '$nfam dscp 0x01/0x02/0x0a counter ... xt target DADDR' rules, got: $(squash <<<"$out")"
		fi
	fi

	# From here on the cases only add (or fail to add); one save afterwards checks them all.

	# --- mangle PREROUTING and INPUT are accepted
	local -A mrc=() mout=()
	for c in PREROUTING INPUT; do
		mout[$c]=$(ns "$SRV" "$ipt" -t mangle -A "$c" -m dscp --dscp 3 -j DADDR \
			--set-daddr "${VIPS[0]}" 2>&1)
		mrc[$c]=$?
	done

	# --- a user chain: checkentry sees no hook there (legacy while nothing jumps to it;
	# nft_compat always, for a non-base chain), so the hooks must be enforced when a base
	# chain jumps to it
	local uc_fail=''
	if ! out=$(ns "$SRV" "$ipt" -t raw -N L3DSR 2>&1) ||
		! out=$(ns "$SRV" "$ipt" -t raw -A L3DSR -m dscp --dscp 4 -j DADDR \
			--set-daddr "${VIPS[0]}" 2>&1); then
		uc_fail="DADDR rule in raw user chain L3DSR: $(squash <<<"$out")"
	elif ! out=$(ns "$SRV" "$ipt" -t raw -A PREROUTING -j L3DSR 2>&1); then
		uc_fail="jump to L3DSR from raw PREROUTING refused: $(squash <<<"$out")"
	elif ns "$SRV" "$ipt" -t raw -A OUTPUT -j L3DSR >/dev/null 2>&1; then
		uc_fail="jump to L3DSR (holding DADDR) from raw OUTPUT was accepted"
	fi

	# --- kernel refusals: non-zero exit, nothing added, and a kernel log line naming the
	# place. One dmesg after all six; raw OUTPUT and mangle OUTPUT log the same x_tables line,
	# so the lines are looked for in order, each after the one before.
	local places=(filter/INPUT nat/PREROUTING raw/OUTPUT mangle/FORWARD mangle/OUTPUT
		mangle/POSTROUTING)
	local -A krc=() kout=() kline=()
	local -a klog
	local mark pos
	mapfile -t klog < <(dmesg)
	mark=${#klog[@]}
	for u in "${places[@]}"; do
		kout[$u]=$(ns "$SRV" "$ipt" -t "${u%/*}" -A "${u#*/}" -m dscp --dscp 1 -j DADDR \
			--set-daddr "${VIPS[0]}" 2>&1)
		krc[$u]=$?
	done
	mapfile -t klog < <(dmesg)
	pos=$mark
	for u in "${places[@]}"; do
		pat=$(kernel_refusal_pattern "${u%/*}" "${u#*/}")
		for ((i = pos; i < ${#klog[@]}; i++)); do
			if [[ ${klog[i]} =~ $pat ]]; then
				kline[$u]=${klog[i]}
				pos=$((i + 1))
				break
			fi
		done
	done
	# A line may be missing because the kernel's messages are ratelimited (10 per 5 s per
	# call site): try such a place once more, alone, after the limit has passed.
	for u in "${places[@]}"; do
		[[ ${krc[$u]} != 0 && -z ${kline[$u]:-} ]] || continue
		sleep 6
		mapfile -t klog < <(dmesg)
		mark=${#klog[@]}
		kout[$u]=$(ns "$SRV" "$ipt" -t "${u%/*}" -A "${u#*/}" -m dscp --dscp 1 -j DADDR \
			--set-daddr "${VIPS[0]}" 2>&1)
		krc[$u]=$?
		sleep 0.5
		mapfile -t klog < <(dmesg)
		pat=$(kernel_refusal_pattern "${u%/*}" "${u#*/}")
		for ((i = mark; i < ${#klog[@]}; i++)); do
			[[ ${klog[i]} =~ $pat ]] && kline[$u]=${klog[i]} && break
		done
		[[ -n ${kline[$u]:-} ]] || kline[$u]="!${klog[*]:mark}"
	done

	# --- userspace refusals: exit 2 (PARAMETER_PROBLEM), the value and the fix
	local -a ucases
	if [[ $FAM == 4 ]]; then
		ucases=(
			"wrong-family|2001:db8::1|\"2001:db8::1\" is an IPv6 address; use ip6tables for an IPv6 VIP"
			"not-an-address|not-an-address|\"not-an-address\" is not an IPv4 address"
			"hostname|localhost|\"localhost\" is not an IPv4 address: --set-daddr takes a literal address (host names are not resolved)"
			"unspecified|0.0.0.0|\"0.0.0.0\" is the unspecified address"
			"multicast|224.0.0.1|\"224.0.0.1\" is a multicast address"
		)
	else
		ucases=(
			"wrong-family|10.0.0.1|\"10.0.0.1\" is an IPv4 address; use iptables for an IPv4 VIP"
			"not-an-address|not-an-address|\"not-an-address\" is not an IPv6 address"
			"hostname|localhost|\"localhost\" is not an IPv6 address: --set-daddr takes a literal address (host names are not resolved)"
			"unspecified|::|\"::\" is the unspecified address"
			"multicast|ff02::1|\"ff02::1\" is a multicast address"
		)
	fi
	ucases+=("missing||DADDR: give --set-daddr VIP (one VIP per rule) or --map (VIPs from the l3dsr table)")
	for u in "${ucases[@]}"; do
		IFS='|' read -r t bad msg <<<"$u"
		if [[ $t == missing ]]; then
			out=$(ns "$SRV" "$ipt" -t raw -A PREROUTING -m dscp --dscp 1 -j DADDR 2>&1)
		else
			out=$(ns "$SRV" "$ipt" -t raw -A PREROUTING -m dscp --dscp 1 -j DADDR \
				--set-daddr "$bad" 2>&1)
		fi
		rc=$?
		if ((rc != 2)); then
			fail "user-refuses-$t-$sfx" "want exit 2, got $rc: $(squash <<<"$out")"
		elif [[ $out != *"$msg"* ]]; then
			fail "user-refuses-$t-$sfx" "want message '$msg', got: $(squash <<<"$out")"
		else
			pass "user-refuses-$t-$sfx"
		fi
	done

	# --- one save for the mangle, user chain, kernel and userspace refusal cases
	got=$(ns "$SRV" "$ipt-save" 2>&1)
	for c in PREROUTING INPUT; do
		name=accept-mangle-${c,,}-$sfx
		want="-A $c -m dscp --dscp 0x03 -j DADDR --set-daddr ${VIPS[0]}"
		if [[ ${mrc[$c]} != 0 ]]; then
			fail "$name" "$ipt -t mangle -A $c: exit ${mrc[$c]}: $(squash <<<"${mout[$c]}")"
		elif [[ "$(rules_of "$got" mangle "$c")" != "$want" ]]; then
			fail "$name" "accepted, but mangle $c holds '$(rules_of "$got" mangle "$c" | squash)', not '$want'"
		else
			pass "$name"
		fi
	done

	name=user-chain-$sfx
	if [[ -n $uc_fail ]]; then
		fail "$name" "$uc_fail"
	elif ! has_line "$got" "-A L3DSR -m dscp --dscp 0x04 -j DADDR --set-daddr ${VIPS[0]}" ||
		! has_line "$got" "-A PREROUTING -j L3DSR"; then
		fail "$name" "rules accepted, but not saved: $(rules_of "$got" raw L3DSR | squash)"
	else
		pass "$name"
	fi

	for u in "${places[@]}"; do
		t=${u%/*}
		c=${u#*/}
		name=kernel-refuses-$t-${c,,}-$sfx
		if [[ ${krc[$u]} == 0 ]]; then
			fail "$name" "$ipt -t $t -A $c -j DADDR was accepted"
		elif [[ -n "$(rules_of "$got" "$t" "$c")" ]]; then
			fail "$name" "refused (exit ${krc[$u]}), but $t $c holds: $(rules_of "$got" "$t" "$c" | squash)"
		elif [[ -z ${kline[$u]:-} || ${kline[$u]} == !* ]]; then
			fail "$name" "refused (exit ${krc[$u]}: $(squash <<<"${kout[$u]}")), but no kernel log line /$(kernel_refusal_pattern "$t" "$c")/; new dmesg: $(cut -c1-300 <<<"${kline[$u]:-}")"
		else
			log "$t/$c refused (exit ${krc[$u]}); kernel: ${kline[$u]}"
			pass "$name"
		fi
	done

	# Nothing refused reached raw PREROUTING: the restored rules (and the user chain's
	# jump, which user-chain checks) and no more.
	local pre
	pre=$'\n'"$(rules_of "$got" raw PREROUTING)"$'\n'
	pre=${pre//$'\n-A PREROUTING -j L3DSR\n'/$'\n'}
	expect_eq "refusals-add-nothing-$sfx" "$pre" $'\n'"$(rules_of "$save2" raw PREROUTING)"$'\n' \
		"raw PREROUTING after the refusals"

	# --- iptables-daddr's spelling, --set-daddr=ADDR, in a restore file (which also drops
	# the user chain: a restore replaces each table it names)
	cat >"yahoo-$sfx.rules" <<EOF
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -m dscp --dscp 1 -j DADDR --set-daddr=${VIPS[1]}
COMMIT
EOF
	want="-A PREROUTING -m dscp --dscp 0x01 -j DADDR --set-daddr ${VIPS[1]}"
	if ! out=$(ns "$SRV" "$ipt-restore" <"yahoo-$sfx.rules" 2>&1); then
		fail "yahoo-syntax-restore-$sfx" "$ipt-restore: $(squash <<<"$out")"
	elif ! out=$(ns "$SRV" "$ipt-save" -t raw 2>&1) || ! has_line "$out" "$want"; then
		fail "yahoo-syntax-restore-$sfx" "loaded, but no '$want' in: $(grep DADDR <<<"$out" | squash)"
	else
		pass "yahoo-syntax-restore-$sfx"
	fi

	# --- empty every table we touched, and check nothing of ours is left
	if ! out=$(ns "$SRV" "$ipt-restore" <<<$'*raw\nCOMMIT\n*mangle\nCOMMIT\n*filter\nCOMMIT\n*nat\nCOMMIT' 2>&1); then
		fail "cleanup-$sfx" "$ipt-restore of empty tables: $(squash <<<"$out")"
	elif out=$(ns "$SRV" "$ipt-save" 2>&1) && [[ $out == *$'\n-A '* || $out == *$'\n:L3DSR'* ]]; then
		fail "cleanup-$sfx" "rules left: $(grep -E '^(-A|:L3DSR)' <<<"$out" | squash)"
	else
		pass "cleanup-$sfx"
	fi
}

if ! out=$(setup_netns 2>&1); then
	fail setup "namespace/veth setup failed: $(squash <<<"$out")"
	exit 0
fi
for be in legacy nft; do
	for fam in 4 6; do
		run_variant "$be" "$fam"
	done
done
log "=== done"
exit 0
