# shellcheck shell=bash
# genl_fuzz: the l3dsr generic netlink family under build/genlfuzz (tests/tools/genlfuzz), run in
# the real server's namespace while UDP with DSCP 10 flows through its `-j DADDR --map` rule:
# valid and malformed requests from several sockets, staged replaces left by closed sockets,
# namespaces created and dropped meanwhile; then the table dumps consistently, its counts add
# up and a flush empties it. The module's unload after the scenario and the console scan
# (BUG/WARNING/KASAN, kmemleak under make test-debug) are the bench's.
#
#   gf-client  c0 192.0.2.1/24 ── UDP to 192.0.2.2:9000, TOS 0x28 (DSCP 10), every ms
#   gf-rs      r0 192.0.2.2/24, lo 10.80.0.1 (the VIP of the kept entry: DSCP 10 → 10.80.0.1)
#              raw PREROUTING: -j DADDR --map; the fuzzer fuzzes this namespace's table
#
# Variables: GENL_FUZZ_SECONDS (how long, default 20; make test-debug sets 600),
# GENL_FUZZ_WORKERS (parallel sockets, default 4), GENL_FUZZ_SEED (replay a seed).
# Cases: genl-fuzz/run (exit 0, no FINDING), genl-fuzz/dump-consistent, genl-fuzz/counts,
# genl-fuzz/flush, traffic/rewritten (the table's rewritten total and the rule's counter grew).

set -u

FUZZ=$L3DSR_BUILD/genlfuzz
NLT=$L3DSR_BUILD/map_kernel/l3dsr-nltest
C=gf-client R=gf-rs
WORK=$PWD
SECS=${GENL_FUZZ_SECONDS:-20}
WORKERS=${GENL_FUZZ_WORKERS:-4}
SEED=${GENL_FUZZ_SEED:-}

if [[ ! -x $FUZZ || ! -x $NLT ]]; then
	fail setup "$FUZZ or $NLT missing: run 'make testtools' on the host"
	exit 0
fi

# shellcheck disable=SC2317 # on_exit calls it
cleanup() {
	touch "$WORK/stop"
	[[ -z ${tpid:-} ]] || wait "$tpid" 2>/dev/null
	ns_del "$C" "$R"
	return 0
}
on_exit cleanup

# rule_packets: the packets the map rule has seen
rule_packets() {
	ns $R iptables -t raw -L PREROUTING -v -x -n | awk '/DADDR/ { print $1; exit }'
}

if ! ns_pair $C $R 192.0.2.1/24 ||
	! ip -n $R addr add 192.0.2.2/24 dev r0 || ! ip -n $R addr add 10.80.0.1/32 dev lo ||
	! ns $R iptables -t raw -A PREROUTING -j DADDR --map; then
	fail setup "the namespaces, addresses or the map rule could not be made"
	exit 0
fi

rm -f "$WORK/stop"
timeout $((SECS + 300)) "$NLT" -n $C send dst=192.0.2.2 port=9000 tos=0x28 gap_us=1000 stopfile="$WORK/stop" \
	>"$WORK/send.out" 2>&1 &
tpid=$!
rule0=$(rule_packets)

log "genlfuzz for ${SECS}s, $WORKERS workers${SEED:+, seed $SEED}"
rc=0
ns $R timeout -k 10 $((SECS * 3 + 120)) "$FUZZ" -duration "${SECS}s" -workers "$WORKERS" -keep 10,10.80.0.1 \
	${SEED:+-seed "$SEED"} >"$WORK/fuzz.out" 2>&1 || rc=$?
rule1=$(rule_packets)
touch "$WORK/stop"
wait "$tpid"
tpid=

out=$(<"$WORK/fuzz.out")
seed=$(sed -n 's/^seed=//p' <<<"$out" | head -n 1)
rate=$(grep '^genlfuzz: ' <<<"$out" | tail -n 1)
log "seed=$seed"
log "${rate:-no summary line}"
grep -m 20 '^FINDING' <<<"$out"
replay="replay: GENL_FUZZ_SEED=$seed GENL_FUZZ_SECONDS=$SECS tests/vm/run.sh -k $KREL -s genl_fuzz, or in the guest: $(grep '^replay: ' <<<"$out" | sed 's/^replay: //')"

if ((rc == 0)) && ! grep -q '^FINDING' <<<"$out" && [[ -n $rate ]]; then
	pass genl-fuzz/run
else
	fail genl-fuzz/run "seed=$seed exit $rc: $(grep -m 3 '^FINDING\|^genlfuzz: ' <<<"$out" | squash); $replay"
fi
for c in dump-consistent counts flush; do
	if grep -q "^check $c: ok$" <<<"$out"; then
		pass "genl-fuzz/$c"
	else
		fail "genl-fuzz/$c" "seed=$seed: $(grep -m 1 "check $c" <<<"$out" || echo "no 'check $c' line") ; $replay"
	fi
done

# The kept entry's traffic was rewritten while the fuzzer ran: its rewritten total grew, and the
# rule saw the datagrams.
re='^rewritten: start=([0-9]+) end=([0-9]+)'
line=$(grep '^rewritten: ' <<<"$out")
if [[ $line =~ $re ]] && ((BASH_REMATCH[2] > BASH_REMATCH[1])) && ((${rule1:-0} > ${rule0:-0})); then
	pass traffic/rewritten
else
	fail traffic/rewritten "seed=$seed: want the table's rewritten total and the rule's packets to grow: '${line:-no rewritten line}', rule packets ${rule0:-?} -> ${rule1:-?}; sender: $(squash <"$WORK/send.out")"
fi
exit 0
