# shellcheck shell=bash
# map_cli: map mode driven by the l3dsr CLI only ($L3DSR_BIN) on the real server, with real
# UDP clients and servers (tests/scenarios/map_cli.d/udp.py: one python process per role).
#
#   mc-client  c0 192.0.2.1/24, 2001:db8:1::1/64
#      │ veth
#   mc-rs      r0 RIPs 192.0.2.10-13, 2001:db8:1::10-11
#              lo VIPs 10.90.0.1-N4 (IPv4 VIP i -> RIP 192.0.2.(10+i%4), DSCP i/4+1)
#                  2001:db8:90::1-14 (IPv6 VIP j -> RIP 2001:db8:1::(10+j%2), DSCP j/2+1)
#              one UDP server socket per VIP, answering from the VIP with the VIP's name
#   mc-legacy  iptables-legacy beside a DADDR rule that is not the map rule
#
# Cases:
#   scale-*    N4 + 20 `rule add`s (N4: 40 IPv4 VIPs here, 200 in tests/scale/); one `-j DADDR --map` rule per family (iptables and ip6tables);
#              3 requests to each VIP through its RIP and DSCP: every reply from its own VIP;
#              every entry's packet counter == 3
#   replace-roundtrip   `rule list -o json > f; rule replace -f f` gives the same listing
#   legacy-*   `rule add --iptables legacy` appends the map rule beside `-j DADDR --set-daddr`
#              (which iptables-legacy 1.8.9's -C confuses with it), once
#   err-*      usage errors (exit 2) change nothing; the unprivileged get exit 1 and why;
#              `rule del` of a missing entry is exit 1
#   any-*      addr mode (issue 22): `rule add --dscp any --local A` (+ --set-dscp 0), IPv4 and
#              IPv6: listed as "any" with set_dscp; requests with DSCP 34 and 0 to A answered by
#              its VIP and counted; a (DSCP 5, A) entry for another VIP is warned about (exit 0)
#              and wins for DSCP 5 (the lookup order); `--dscp any` without --local (add, del,
#              a replace file) is exit 2 with nothing changed; `rule del --dscp any --local A` removes it
#   live-*     requests in a loop to 10 VIPs while `rule replace -f` installs a 65,536-entry
#              table MC_REPLACES times (4 here, 50 in tests/scale/): zero failed, counters carried over, 65,536 entries at the end
#   flush-empties
#
# MC_BACKEND=bpf (tests/scale/map_cli_bpf.sh, `make vmtest-scale`) runs the same cases on the BPF backend
# (issue 17): the adds carry `--backend bpf`, which loads the tc program and attaches it to every
# link but lo; scale-rule-once-* then want no map-mode rule in iptables and one l3dsr_ingress
# program in the kernel however many adds ran; the legacy-* cases (iptables-legacy's map rule)
# are the module's alone and do not run.

set -u
MC_BACKEND=${MC_BACKEND:-module}
# How many 65,536-entry replaces the live-change part runs: 4 in make test (each takes 3 to 6 s
# under TCG), 50 in `make vmtest-scale` (tests/scale/).
MC_REPLACES=${MC_REPLACES:-4}
MC_ADD=()
[[ $MC_BACKEND == module ]] || MC_ADD=(--backend "$MC_BACKEND")

C=mc-client R=mc-rs L=mc-legacy
WORK=$PWD
D=$L3DSR_SRC/tests/scenarios/map_cli.d
UDP=$D/udp.py
PORT=7000
MAPLINE='-A PREROUTING -j DADDR --map'

on_exit ns_del $C $R $L

if [[ ! -x $L3DSR_BIN ]]; then
	fail setup "$L3DSR_BIN missing: run 'make go' on the host"
	exit 0
fi
for t in python3 jq setpriv; do
	if ! command -v $t >/dev/null; then
		fail setup "$t is not installed (the scenario needs it)"
		exit 0
	fi
done

# maprules NS BINARY: how many exact map-mode rules raw PREROUTING holds
maprules() { ip netns exec "$1" "$2" -t raw -S PREROUTING 2>/dev/null | grep -cxF -- "$MAPLINE"; }
msecs() { # START END (EPOCHREALTIME values): elapsed ms
	local a=${1/./} b=${2/./}
	echo $(((10#$b - 10#$a) / 1000))
}

# ---------------------------------------------------------------------------------------------
log "topology"
v4vip() { echo "10.90.0.$(($1 + 1))"; }
v4rip() { echo "192.0.2.$((10 + $1 % 4))"; }
v4dscp() { echo $(($1 / 4 + 1)); }
v6vip() { printf '2001:db8:90::%x\n' $(($1 + 1)); }
v6rip() { echo "2001:db8:1::$((10 + $1 % 2))"; }
v6dscp() { echo $(($1 / 2 + 1)); }
# make test adds 40 IPv4 VIPs, `make vmtest-scale` 200 (about 0.2 s an add under TCG).
N4=${MC_N4:-40} N6=20

topo() {
	local i
	ns_pair $C $R 192.0.2.1/24 2001:db8:1::1/64 && ip netns add $L || return 1
	ip -n $C -batch - <<-EOF || return 1
		route add 10.90.0.0/16 dev c0
		route add 2001:db8:90::/64 dev c0
	EOF
	ip netns exec $C sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.c0.rp_filter=0 || return 1
	{
		for i in 10 11 12 13; do echo "addr add 192.0.2.$i/24 dev r0"; done
		for i in 10 11; do echo "addr add 2001:db8:1::$i/64 dev r0 nodad"; done
		for ((i = 0; i < N4; i++)); do echo "addr add $(v4vip $i)/32 dev lo"; done
		for ((i = 0; i < N6; i++)); do echo "addr add $(v6vip $i)/128 dev lo nodad"; done
	} | ip -n $R -batch - || return 1
	ip -n $L link set lo up
}
if ! out=$(topo 2>&1); then
	fail setup "topology: $out"
	exit 0
fi

vips=()
for ((i = 0; i < N4; i++)); do vips+=("$(v4vip $i)"); done
for ((i = 0; i < N6; i++)); do vips+=("$(v6vip $i)"); done
ip netns exec $R python3 "$UDP" server $PORT "$WORK/server.ready" "${vips[@]}" >"$WORK/server.out" 2>&1 &
if ! wait_for 60 test -e "$WORK/server.ready"; then
	fail setup "the UDP server did not start within 60s: $(cat "$WORK/server.out")"
	exit 0
fi

# ---------------------------------------------------------------------------------------------
log "scale: $N4 IPv4 and $N6 IPv6 'l3dsr rule add's"
{
	for ((i = 0; i < N4; i++)); do echo "--dscp $(v4dscp $i) --vip $(v4vip $i) --local $(v4rip $i)"; done
	for ((i = 0; i < N6; i++)); do echo "--dscp $(v6dscp $i) --vip $(v6vip $i) --local $(v6rip $i)"; done
} >"$WORK/adds"
t0=$EPOCHREALTIME
# One shell in the namespace for all the adds: `ip netns exec` is slow under TCG.
# shellcheck disable=SC2016 # expanded by the inner bash
ip netns exec $R bash -c '
	n=0
	while read -r args; do
		# shellcheck disable=SC2086
		if ! out=$("$0" rule add "${@:2}" $args 2>&1); then echo "FAILED rule add $args: $out"; fi
		n=$((n + 1))
	done <"$1"
	echo "adds=$n"
' "$L3DSR_BIN" "$WORK/adds" "${MC_ADD[@]}" >"$WORK/adds.out" 2>&1
t1=$EPOCHREALTIME
log "$((N4 + N6)) adds took $(msecs "$t0" "$t1") ms"
if grep -q FAILED "$WORK/adds.out" || ! grep -qx "adds=$((N4 + N6))" "$WORK/adds.out"; then
	fail scale-adds "$(grep -m 3 FAILED "$WORK/adds.out") $(tail -n 1 "$WORK/adds.out")"
else
	pass scale-adds
fi
if [[ $MC_BACKEND == module ]]; then
	expect_eq scale-rule-once-v4 "$(maprules $R iptables)" 1 "'$MAPLINE' lines in iptables -t raw -S PREROUTING after $N4 adds"
	expect_eq scale-rule-once-v6 "$(maprules $R ip6tables)" 1 "'$MAPLINE' lines in ip6tables -t raw -S PREROUTING after $N6 adds"
else
	expect_eq scale-rule-once-v4 "$(maprules $R iptables)" 0 "'$MAPLINE' lines in iptables -t raw -S PREROUTING with the BPF backend"
	expect_eq scale-rule-once-v6 "$(bpftool prog show name l3dsr_ingress 2>&1 | grep -c sched_cls)" 1 \
		"l3dsr_ingress programs loaded (bpftool prog show) after $((N4 + N6)) adds"
fi
ns $R iptables -t raw -S PREROUTING
ns $R ip6tables -t raw -S PREROUTING

log "scale: 3 requests to each VIP through its RIP and DSCP"
{
	for ((i = 0; i < N4; i++)); do echo "$(v4rip $i) $(v4dscp $i) $(v4vip $i) 3"; done
	for ((i = 0; i < N6; i++)); do echo "$(v6rip $i) $(v6dscp $i) $(v6vip $i) 3"; done
} >"$WORK/scale.targets"
t0=$EPOCHREALTIME
timeout 300 ip netns exec $C python3 "$UDP" scale $PORT "$WORK/scale.targets" >"$WORK/scale.out" 2>&1
log "scale traffic took $(msecs "$t0" "$EPOCHREALTIME") ms: $(grep -E '^ipv[46] ' "$WORK/scale.out" | tr '\n' ' ')"
expect_eq scale-v4-own-vip "$(grep '^ipv4 ' "$WORK/scale.out")" "ipv4 sent=$((3 * N4)) ok=$((3 * N4)) bad=0" \
	"$(grep -m 3 '^bad rip=[0-9.]* ' "$WORK/scale.out" | tr '\n' ' ')$(grep -v -e '^bad' -e '^ipv' "$WORK/scale.out" | tail -n 3) client"
expect_eq scale-v6-own-vip "$(grep '^ipv6 ' "$WORK/scale.out")" "ipv6 sent=$((3 * N6)) ok=$((3 * N6)) bad=0" \
	"$(grep -m 3 '^bad rip=[0-9a-f:]* ' "$WORK/scale.out" | tr '\n' ' ') client"

l3n $R rule list -o json >"$WORK/scale.json" 2>"$WORK/scale.json.err"
for f in 4 6; do
	want=$N4
	((f == 6)) && want=$N6
	n=$(jq "[.[] | select(.family == \"ipv$f\")] | length" "$WORK/scale.json" 2>&1)
	bad=$(jq -r ".[] | select(.family == \"ipv$f\" and .packets != 3) | \"dscp \(.dscp) local \(.local) vip \(.vip): \(.packets)\"" "$WORK/scale.json" 2>&1 | head -n 5)
	if [[ $n == "$want" && -z $bad ]]; then
		pass scale-v$f-counters
	else
		fail scale-v$f-counters "want $want ipv$f entries with packets == 3 each; got $n entries; off: ${bad:-none} $(cat "$WORK/scale.json.err")"
	fi
done
# Every entry maps what was added: the key and the VIP line up as the client expects.
bad=$(jq -r '.[] | "\(.family) \(.dscp) \(.local) \(.vip)"' "$WORK/scale.json" | sort >"$WORK/scale.keys"
	{
		for ((i = 0; i < N4; i++)); do echo "ipv4 $(v4dscp $i) $(v4rip $i) $(v4vip $i)"; done
		for ((i = 0; i < N6; i++)); do echo "ipv6 $(v6dscp $i) $(v6rip $i) $(v6vip $i)"; done
	} | sort | diff - "$WORK/scale.keys" | head -n 5)
expect_eq scale-list-entries "$bad" "" "difference between the entries added and 'rule list -o json'"

# ---------------------------------------------------------------------------------------------
log "replace round trip"
out=$(l3n $R rule replace -f "$WORK/scale.json" 2>&1)
rc=$?
l3n $R rule list -o json >"$WORK/rt.json" 2>&1
if ((rc == 0)) && [[ $out == "replaced the table: $((N4 + N6)) entries (IPv4 $N4, IPv6 $N6)" ]] &&
	cmp -s "$WORK/scale.json" "$WORK/rt.json"; then
	pass replace-roundtrip
else
	fail replace-roundtrip "exit $rc, output '$out'; listing before/after: $(diff "$WORK/scale.json" "$WORK/rt.json" | head -n 6)"
fi

# ---------------------------------------------------------------------------------------------
if [[ $MC_BACKEND == module ]]; then
	log "iptables-legacy: the map rule beside a DADDR rule that is not it"
	ns $L iptables-legacy -t raw -A PREROUTING -j DADDR --set-daddr 10.90.0.99
	ns $L ip6tables-legacy -t raw -A PREROUTING -j DADDR --set-daddr 2001:db8:90::99
fi
for f in 4 6; do
	[[ $MC_BACKEND == module ]] || break
	bin=iptables-legacy vip=10.90.0.1
	((f == 6)) && bin=ip6tables-legacy vip=2001:db8:90::1
	ns $L $bin -t raw -C PREROUTING -j DADDR --map >/dev/null 2>&1
	log "$bin -C PREROUTING -j DADDR --map beside only '--set-daddr': exit $? (0 would be the -C bug)"
	out=
	for d in 1 2 3; do
		out+=$(l3n $L rule add --iptables legacy --dscp $d --vip $vip 2>&1) || out+=" [exit $?]"
	done
	rules=$(ns $L $bin -t raw -S PREROUTING 2>&1)
	if [[ $(grep -cxF -- "$MAPLINE" <<<"$rules") == 1 && $rules == *"-j DADDR --set-daddr"* && $out != *"[exit"* ]]; then
		pass legacy-v$f-rule-once
	else
		fail legacy-v$f-rule-once "want one '$MAPLINE' beside the --set-daddr rule after 3 adds; adds: $out; $bin -S: $rules"
	fi
done

# ---------------------------------------------------------------------------------------------
log "CLI errors against the real kernel"
snapshot() {
	l3n $R rule stats -o json | jq -c '{entries, generation}'
	ns $R iptables -t raw -S
	ns $R ip6tables -t raw -S
}
before=$(snapshot 2>&1)
experr err-dscp-64 2 "DSCP 64 is out of range: use 0-63" l3n $R rule add --dscp 64 --vip 10.90.0.1
experr err-vip-banana 2 '--vip "banana" is not an IP address' l3n $R rule add --dscp 1 --vip banana
experr err-family-mix 2 "VIP 10.90.0.1 is IPv4 but local address 2001:db8:1::10 is IPv6: use addresses of one family" \
	l3n $R rule add --dscp 1 --vip 10.90.0.1 --local 2001:db8:1::10
printf '[{"family": "ipv4", "dscp": 1, "vip": "10.90.0.1"},\n {"family": "ipv4", "dscp": 64, "vip": "10.90.0.2"}]\n' >"$WORK/bad.json"
experr err-replace-bad-entry 2 'bad.json:2: entry 1: "dscp" 64 is out of range: use 0-63' l3n $R rule replace -f "$WORK/bad.json"
after=$(snapshot 2>&1)
if [[ $before == "$after" && $before == *"\"entries\":$((N4 + N6))"* ]]; then
	pass err-nothing-changed
else
	fail err-nothing-changed "entries, generation and rules before: [$before] after: [$after]"
fi
experr err-del-missing 1 "no entry with this key" l3n $R rule del --dscp 60 --local 192.0.2.10
out=$(ip netns exec $R setpriv --reuid 65534 --regid 65534 --clear-groups "$L3DSR_BIN" rule list 2>&1)
rc=$?
if ((rc == 1)) && grep -qiE 'permi|CAP_NET_ADMIN' <<<"$out"; then
	pass err-unprivileged
	log "unprivileged: $out"
else
	fail err-unprivileged "want exit 1 and a message about permission / CAP_NET_ADMIN, got exit $rc: $out"
fi

# ---------------------------------------------------------------------------------------------
log "addr mode: any-DSCP entries"
# A4/A6: addresses of the server's that stand for VIP 0 (IPv4) and IPv6 VIP 0 in addr mode.
A4=192.0.2.20 A6=2001:db8:1::20 AV4=$(v4vip 0) AV6=$(v6vip 0) OV4=$(v4vip 1)
ip -n $R addr add $A4/24 dev r0
ip -n $R addr add $A6/64 dev r0 nodad
before=$(snapshot 2>&1)
experr any-no-local 2 "an any-DSCP entry needs --local: without it, it would capture every packet" \
	l3n $R rule add --dscp any --vip "$AV4"
experr any-del-no-local 2 "an any-DSCP entry needs --local" l3n $R rule del --dscp any
printf '[{"family": "ipv4", "dscp": "any", "vip": "%s"}]\n' "$AV4" >"$WORK/anybad.json"
experr any-replace-no-local 2 'anybad.json:1: entry 0: "dscp" "any" needs a "local" address' \
	l3n $R rule replace -f "$WORK/anybad.json"
expect_eq any-no-local-nothing-changed "$(snapshot 2>&1)" "$before" "entries, generation and rules after the refused adds"
experr any-add-v4 0 "added IPv4 DSCP any local $A4 -> VIP $AV4, DSCP set to 0" \
	l3n $R rule add --dscp any --local $A4 --vip "$AV4" --set-dscp 0
experr any-add-v6 0 "added IPv6 DSCP any local $A6 -> VIP $AV6" l3n $R rule add --dscp any --local $A6 --vip "$AV6"
# The (DSCP, local) entry of another VIP: added (exit 0), with the warning on stderr only.
out=$(l3n $R rule add --dscp 5 --local $A4 --vip "$OV4" 2>"$WORK/any.err")
rc=$?
want="warning: DSCP 5 to $A4 goes to VIP $OV4, not VIP $AV4's any-DSCP entry: (DSCP, local) is looked up first"
if ((rc == 0)) && [[ $out == "added IPv4 DSCP 5 local $A4 -> VIP $OV4" && $(cat "$WORK/any.err") == "$want" ]]; then
	pass any-shadow-warning
else
	fail any-shadow-warning "want exit 0, 'added ...' and on stderr only '$want'; got exit $rc, stdout '$out', stderr '$(cat "$WORK/any.err")'"
fi
l3n $R rule list -o json >"$WORK/any.json" 2>&1
got=$(jq -c "[.[] | select(.dscp == \"any\" or .local == \"$A4\") | {family, dscp, local, vip, set_dscp}] | sort_by(.family, (.dscp | tostring))" "$WORK/any.json" 2>&1)
want="[{\"family\":\"ipv4\",\"dscp\":5,\"local\":\"$A4\",\"vip\":\"$OV4\",\"set_dscp\":null},"
want+="{\"family\":\"ipv4\",\"dscp\":\"any\",\"local\":\"$A4\",\"vip\":\"$AV4\",\"set_dscp\":0},"
want+="{\"family\":\"ipv6\",\"dscp\":\"any\",\"local\":\"$A6\",\"vip\":\"$AV6\",\"set_dscp\":null}]"
expect_eq any-list-json "$got" "$want" "the any-DSCP entries and the (5, $A4) entry in 'rule list -o json'"
row=$(l3n $R rule list 2>&1 | awk -v a=$A4 '$2 == "any" && $3 == a {print $1, $2, $3, $4, $7}')
expect_eq any-list-table "$row" "ipv4 any $A4 $AV4 0" "FAMILY DSCP LOCAL VIP SET-DSCP of the IPv4 any-DSCP row of 'rule list'"
# Any code but 5 to A4 reaches VIP 0; 5 reaches VIP 1 ((DSCP, local) first); any code to A6 reaches
# IPv6 VIP 0.
printf '%s\n' "$A4 34 $AV4 3" "$A4 0 $AV4 3" "$A4 5 $OV4 3" "$A6 34 $AV6 3" >"$WORK/any.targets"
timeout 120 ip netns exec $C python3 "$UDP" scale $PORT "$WORK/any.targets" >"$WORK/any.out" 2>&1
expect_eq any-traffic-v4 "$(grep '^ipv4 ' "$WORK/any.out")" "ipv4 sent=9 ok=9 bad=0" "$(grep -m 3 '^bad' "$WORK/any.out" | tr '\n' ' ')"
expect_eq any-traffic-v6 "$(grep '^ipv6 ' "$WORK/any.out")" "ipv6 sent=3 ok=3 bad=0" "$(grep -m 3 '^bad' "$WORK/any.out" | tr '\n' ' ')"
got=$(l3n $R rule list -o json | jq -r "[.[] | select(.dscp == \"any\" or .local == \"$A4\")] | sort_by(.family, (.dscp | tostring)) | map(.packets) | join(\" \")" 2>&1)
expect_eq any-counters "$got" "3 6 3" "packets of (IPv4 5, $A4), (IPv4 any, $A4), (IPv6 any, $A6)"
experr any-del-v4 0 "deleted IPv4 DSCP any local $A4" l3n $R rule del --dscp any --local $A4
experr any-del-v6 0 "deleted IPv6 DSCP any local $A6" l3n $R rule del --dscp any --local $A6
l3n $R rule del --dscp 5 --local $A4 >/dev/null 2>&1
got=$(l3n $R rule list -o json | jq "[.[] | select(.dscp == \"any\" or .local == \"$A4\")] | length" 2>&1)
expect_eq any-deleted "$got" 0 "any-DSCP or $A4 entries left after 'rule del'"

# ---------------------------------------------------------------------------------------------
NBIG=65536
log "live change: $NBIG-entry tables, $MC_REPLACES replaces, requests in a loop"
# The client's 10 VIPs (IPv4 0-7, IPv6 0-1), in both files with the same key and VIP.
: >"$WORK/live.targets"
: >"$WORK/live.keep"
for i in 0 1 2 3 4 5 6 7; do
	echo "$(v4rip $i) $(v4dscp $i) $(v4vip $i)" >>"$WORK/live.targets"
	printf '{"family": "ipv4", "dscp": %d, "local": "%s", "vip": "%s"},\n' "$(v4dscp $i)" "$(v4rip $i)" "$(v4vip $i)" >>"$WORK/live.keep"
done
for i in 0 1; do
	echo "$(v6rip $i) $(v6dscp $i) $(v6vip $i)" >>"$WORK/live.targets"
	printf '{"family": "ipv6", "dscp": %d, "local": "%s", "vip": "%s"},\n' "$(v6dscp $i)" "$(v6rip $i)" "$(v6vip $i)" >>"$WORK/live.keep"
done
nkeep=$(wc -l <"$WORK/live.targets")
# The other entries: DSCP 0-63 × 1024 local addresses that are not the server's (every fourth
# local address IPv6), VIPs that differ between the two files.
t0=$EPOCHREALTIME
for v in 1 2; do
	{
		echo "["
		cat "$WORK/live.keep"
		awk -v n=$((NBIG - nkeep)) -v v=$v 'BEGIN {
			for (k = 0; k < n; k++) {
				idx = int(k / 64)
				if (idx % 4 == 3)
					printf "{\"family\": \"ipv6\", \"dscp\": %d, \"local\": \"fd00:200::%x\", \"vip\": \"2001:db8:20%d::%x\"}", k % 64, idx, v, k + 1
				else
					printf "{\"family\": \"ipv4\", \"dscp\": %d, \"local\": \"10.200.%d.%d\", \"vip\": \"10.20%d.%d.%d\"}", k % 64, int(idx / 256), idx % 256, v, int(k / 256) % 256, k % 256
				printf (k < n - 1) ? ",\n" : "\n"
			}
		}'
		echo "]"
	} >"$WORK/big$v.json"
done
log "generating two $NBIG-entry files took $(msecs "$t0" "$EPOCHREALTIME") ms ($(wc -c <"$WORK/big1.json") bytes each)"

# One replace on a quiet system, for the timing.
t0=$EPOCHREALTIME
out=$(l3n $R rule replace -f "$WORK/big1.json" 2>&1)
log "TIMING rule replace -f ($NBIG entries, JSON) without traffic: $(msecs "$t0" "$EPOCHREALTIME") ms: $out"

rm -f "$WORK/stop" "$WORK/loop.ready"
ip netns exec $C python3 "$UDP" loop $PORT "$WORK/live.targets" "$WORK/stop" "$WORK/loop.ready" >"$WORK/loop.out" 2>&1 &
lpid=$!
if ! wait_for 60 test -e "$WORK/loop.ready"; then
	fail live-setup "the looping client had no good reply within 60s: $(head -n 5 "$WORK/loop.out")"
fi
ns $R iptables -t raw -S PREROUTING
# shellcheck disable=SC2016 # expanded by the inner bash
ip netns exec $R bash -c '
	for ((i = 1; i <= $2; i++)); do
		f=$1/big$((i % 2 + 1)).json
		t0=${EPOCHREALTIME/./}
		if ! out=$("$0" rule replace -f "$f" 2>&1); then echo "FAILED replace $i: $out"; fi
		t1=${EPOCHREALTIME/./}
		echo "ms $(((10#$t1 - 10#$t0) / 1000)) $out"
	done
' "$L3DSR_BIN" "$WORK" "$MC_REPLACES" >"$WORK/replace.out" 2>&1
touch "$WORK/stop"
wait "$lpid"
cat "$WORK/loop.out"
nrep=$(grep -c "^ms [0-9]* replaced the table: $NBIG entries" "$WORK/replace.out")
if ((nrep == MC_REPLACES)) && ! grep -q FAILED "$WORK/replace.out"; then
	pass live-replace-$MC_REPLACES
else
	fail live-replace-$MC_REPLACES "want $MC_REPLACES replaces of $NBIG entries, $nrep succeeded: $(grep -m 2 FAILED "$WORK/replace.out") $(grep -m 1 -v '^ms [0-9]* replaced' "$WORK/replace.out")"
fi
mapfile -t times < <(awk '/^ms / {print $2}' "$WORK/replace.out" | sort -n)
if ((${#times[@]} > 0)); then
	log "TIMING rule replace -f ($NBIG entries, JSON) during the request loop, ${#times[@]} runs: median ${times[${#times[@]} / 2]} ms, best ${times[0]} ms, worst ${times[-1]} ms"
fi
grep -m 3 -E 'appended' "$WORK/replace.out"

sum=$(grep '^sent=' "$WORK/loop.out")
sent=$(sed -n 's/^sent=\([0-9]*\) .*/\1/p' <<<"$sum")
log "client: $sum"
if [[ $sum =~ ^sent=([0-9]+)\ ok=([0-9]+)\ bad=0$ ]] && ((sent >= 50)); then
	pass live-zero-failed
	log "live: $sent requests, all answered by their own VIP"
else
	fail live-zero-failed "want 50 or more requests, none failed; client: ${sum:-no summary} $(grep -m 3 '^bad' "$WORK/loop.out" | tr '\n' ' ')"
fi
out=$(l3n $R rule stats -o json 2>&1)
expect_eq live-table-$NBIG "$(jq .entries <<<"$out" 2>&1)" $NBIG "entries at the end ($out)"
# The counters of the client's entries went along from table to table: 3 from the scale part,
# plus every request of the loop.
l3n $R rule list -o json >"$WORK/final.json" 2>&1
# One jq pass over the 65,536 entries: "VIP packets" of the client's VIPs.
jq -r --rawfile t "$WORK/live.targets" '($t | split("\n") | map(split(" ")[2] // empty)) as $vips
	| .[] | select(.vip as $v | $vips | index($v)) | "\(.vip) \(.packets)"' "$WORK/final.json" >"$WORK/final.packets" 2>&1
bad=
per=$(grep '^per_vip ' "$WORK/loop.out")
while read -r _ _ vip; do
	n=$(sed -n "s/.* $vip=\([0-9]*\).*/\1/p" <<<"$per ")
	got=$(awk -v v="$vip" '$1 == v { print $2 }' "$WORK/final.packets")
	[[ $got == $((3 + ${n:-0})) ]] || bad+="$vip: packets '$got', want 3 + ${n:-?}; "
done <"$WORK/live.targets"
expect_eq live-counters-kept "$bad" "" "entries whose packet counter is not 3 + the loop's requests"

# ---------------------------------------------------------------------------------------------
log "flush"
out=$(l3n $R rule flush 2>&1)
rc=$?
list=$(l3n $R rule list -o json 2>&1)
st=$(l3n $R rule stats -o json 2>&1 | jq -c .entries)
if ((rc == 0)) && [[ $list == "[]" && $st == 0 ]]; then
	pass flush-empties
else
	fail flush-empties "exit $rc ($out); list after: $list; entries: $st"
fi
exit 0
