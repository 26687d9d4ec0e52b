# shellcheck shell=bash
# selftest: the DADDR rewrite against every skb checksum state, and the map table, inside the kernel.
#
# Loads build/kmod/$KREL/test/xt_DADDR_selftest.ko (kmod/test/: the rewrite code of xt_DADDR
# compiled into a test-only module). Its init builds skbs in the states CHECKSUM_NONE,
# _UNNECESSARY, _PARTIAL and _COMPLETE (which no veth can deliver: see checksum.sh for the wire
# test), linear, paged and cloned, for TCP, UDP, UDP-Lite, DCCP, ICMP/ICMPv6, IPv4 options and
# fragments and IPv6 extension headers; rewrites them. It also checks DSCP_SET after the rewrite
# (dscp-set-*: new DSCP, ECN kept, IPv4 header checksum, CHECKSUM_COMPLETE skb->csum, clones left
# alone) and, in a table of its own, the map table (table-v4-*, table-v6-*: the lookup order
# (DSCP, local) > (DSCP, any) > (any DSCP, local), the any-DSCP address filter and its bits after
# deletes, flushes and a committed replace, an NLM_F_REPLACE add that changes only DSCP_SET).
# It prints one line per case, which this scenario relays:
#   daddr_selftest: PASS NAME           -> pass NAME
#   daddr_selftest: FAIL NAME: REASON   -> fail NAME REASON
#   daddr_selftest: N cases, P passed, F failed
# Init fails (insmod exits non-zero) when any case failed. Besides the relayed cases:
#   load       insmod succeeded exactly when no case failed, and every case printed one line
#   unload     the module goes away again
# Sourced after tests/lib/common.sh (pass, fail, log).

st_ko=$L3DSR_BUILD/kmod/$KREL/test/xt_DADDR_selftest.ko

st_main() {
	local mark out rc=0 line name why n='' p='' f='' seen=0 nfail=0
	if [[ ! -f $st_ko ]]; then
		fail load "$st_ko missing: build kmod/test against $KREL (make -C /lib/modules/$KREL/build M=<copy of kmod>/test W=1 modules)"
		return
	fi
	mark=$(dmesg | wc -l)
	out=$(insmod "$st_ko" 2>&1) || rc=$?
	while IFS= read -r line; do
		line=${line#*daddr_selftest: }
		case $line in
		"PASS "*)
			pass "${line#PASS }"
			seen=$((seen + 1))
			;;
		"FAIL "*)
			line=${line#FAIL }
			name=${line%%: *}
			why=${line#*: }
			fail "$name" "$why"
			seen=$((seen + 1)) nfail=$((nfail + 1))
			;;
		*" cases, "*" passed, "*" failed")
			read -r n _ p _ f _ <<<"$line"
			;;
		*) log "kernel: $line" ;;
		esac
	done < <(dmesg | tail -n "+$((mark + 1))" | grep 'daddr_selftest: ')

	if [[ -z $n ]]; then
		fail load "no summary line from the module (insmod exited $rc: $out)"
	elif ((seen != n || nfail != f)); then
		fail load "the module reported $n cases ($f failed) but printed $seen lines ($nfail FAIL)"
	elif ((f == 0 && rc == 0)); then
		pass load
	elif ((f > 0 && rc != 0)); then
		# The failing cases carry the story; insmod refusing the module is what it should do.
		pass load
	else
		fail load "insmod exited $rc with $f failed cases: want non-zero exactly when a case failed ($out)"
	fi
	if ((rc == 0)); then
		if rmmod xt_DADDR_selftest; then
			pass unload
		else
			fail unload "rmmod xt_DADDR_selftest failed"
		fi
	fi
	log "selftest: $n cases, $p passed, $f failed"
}

st_main
