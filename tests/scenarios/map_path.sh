# shellcheck shell=bash
# map_path: the direct path through the CLI and the config (issue 18), on map_kernel's topology
# (map_kernel.d/lib.sh): `l3dsr rule mode`, `rule list`'s path line, `realserver show`, and
# `apply` with realserver.map_path, on a real server that keeps taking traffic.
#
# Cases: cli-* (rule add appends the --map rule in mode rule and none in direct; rule mode's
# output, JSON and exit codes; iptables -S after each switch), live-switch (10 switches each way
# while datagrams flow to a VIP: none lost, every one delivered to the VIP), apply-*
# (map_path: direct from a file, realserver show's path line, then the file without it leaves the path, then map_path: rule),
# apply-refused-* (direct with an ingress list: exit 2, nothing changed).
set -u

NLT=$L3DSR_BUILD/map_kernel/l3dsr-nltest
C=mp-client R=mp-rs O=mp-other
WORK=$PWD
PORT=9000
export L3DSR_STATE_DIR=$WORK/state L3DSR_IPTABLES=legacy

# shellcheck source=tests/scenarios/map_kernel.d/lib.sh
source "$L3DSR_SRC/tests/scenarios/map_kernel.d/lib.sh"

cleanup() {
	ns_del $C $R $O
	return 0
}
on_exit cleanup

l3() { ns $R "$L3DSR_BIN" "$@"; }
maprules() { ns $R iptables-legacy -t raw -S PREROUTING | grep -c -- '-j DADDR --map'; }

if ! out=$(topo 2>&1); then
	fail setup "topology: $out"
	exit 0
fi

# ---------------------------------------------------------------------------------------------
log "rule add and rule mode"
expect cli-add l3 rule add --dscp 10 --vip 10.80.0.1
expect_eq cli-add-rule-mode "$(maprules)" 1 "--map rules after rule add in mode rule"
expect_eq cli-mode-show "$(l3 rule mode)" "mode: rule" "rule mode"
out=$(l3 rule mode direct 2>&1)
expect_eq cli-mode-direct "$out" "map path set to direct
deleted the map-mode rule for IPv4: iptables-legacy -t raw -D PREROUTING -j DADDR --map
mode: direct (hook: IPv4)" "rule mode direct"
expect_eq cli-direct-no-rule "$(maprules)" 0 "--map rules in mode direct"
out=$(sendrecv inet 192.0.2.2 $((10 << 2)) 3)
expect_eq cli-direct-rewrites "$out" "received=3 expected=3 missing=0 dst=10.80.0.1" "receiver"
expect cli-add-direct l3 rule add --dscp 11 --vip 10.80.0.2
expect_eq cli-add-direct-no-rule "$(maprules)" 0 "--map rules after rule add in mode direct"
expect_eq cli-list-path "$(l3 rule list | head -n 1)" "path: direct hook (IPv4)" "rule list's first line"
expect_eq cli-mode-json "$(l3 rule mode -o json | jq -c '[.mode, .hooks]')" '["direct",["ipv4"]]' "rule mode -o json"
RC=0
out=$(l3 rule mode fast 2>&1) || RC=$?
expect_eq cli-mode-bad "$RC $(grep -c 'map path "fast" is not one of rule, direct' <<<"$out")" "2 1" "exit status, error text: $out"
expect_eq cli-mode-bad-unchanged "$(l3 rule mode)" "mode: direct (hook: IPv4)" "after the refused value"

# ---------------------------------------------------------------------------------------------
log "switching back and forth while traffic flows"
rm -f "$WORK/stop" "$WORK/ready.live"
timeout 300 "$NLT" -n $R recv fam=inet port=9100 ready="$WORK/ready.live" timeout=240 >"$WORK/live.recv" 2>&1 &
rpid=$!
wait_for 20 test -e "$WORK/ready.live"
timeout 300 "$NLT" -n $C send dst=192.0.2.2 port=9100 tos=$((10 << 2)) stopfile="$WORK/stop" gap_us=5000 >"$WORK/live.send" 2>&1 &
spid=$!
sleep 1
errs=
for i in 1 2 3 4 5 6 7 8 9 10; do
	l3 rule mode rule >/dev/null 2>>"$WORK/live.err" || errs+=" rule#$i"
	sleep 0.3
	l3 rule mode direct >/dev/null 2>>"$WORK/live.err" || errs+=" direct#$i"
	sleep 0.3
done
sleep 1
touch "$WORK/stop"
wait "$spid"
wait "$rpid"
out=$(cat "$WORK/live.recv")
if [[ -z $errs && $(field missing "$out") == 0 && $(field dst "$out") == 10.80.0.1 && $(field received "$out") -gt 50 ]]; then
	pass live-switch
else
	fail live-switch "switch failures:${errs:- none} $(cat "$WORK/live.err"); receiver: $out; sender: $(cat "$WORK/live.send")"
fi

# ---------------------------------------------------------------------------------------------
log "apply with realserver.map_path"
l3 rule mode rule >/dev/null
l3 rule flush >/dev/null 2>&1 || l3 rule del --dscp 10 >/dev/null 2>&1
ns $R iptables-legacy -t raw -F
cat >"$WORK/direct.conf" <<-EOF
	realserver:
	  iptables: legacy
	  map_path: direct
	  vips:
	    - vip: 10.80.0.3
	      dscp: 12
EOF
sed '/map_path/d' "$WORK/direct.conf" >"$WORK/nopath.conf"
sed 's/map_path: direct/map_path: rule/' "$WORK/direct.conf" >"$WORK/rule.conf"
printf 'realserver:\n  iptables: legacy\n  map_path: direct\n  ingress: [r0]\n  vips:\n    - vip: 10.80.0.3\n      dscp: 12\n' >"$WORK/bad.conf"

expect apply-direct l3 apply -f "$WORK/direct.conf"
expect_eq apply-direct-mode "$(l3 rule mode) $(maprules)" "mode: direct (hook: IPv4) 0" "mode, --map rules"
out=$(sendrecv inet 192.0.2.2 $((12 << 2)) 3)
expect_eq apply-direct-rewrites "$out" "received=3 expected=3 missing=0 dst=10.80.0.3" "receiver"
out=$(l3 realserver show 2>&1)
if grep -q 'path: direct hook (IPv4)' <<<"$out"; then
	pass show-path
else
	fail show-path "realserver show has no 'path: direct hook (IPv4)': $out"
fi
expect apply-nopath l3 apply -f "$WORK/nopath.conf"
expect_eq apply-nopath-kept "$(l3 rule mode)" "mode: direct (hook: IPv4)" "a file without map_path leaves the path"
RC=0
out=$(l3 apply -f "$WORK/bad.conf" 2>&1) || RC=$?
expect_eq apply-refused-ingress "$RC $(grep -c 'ingress' <<<"$out")" "2 1" "exit status, error naming ingress: $out"
expect_eq apply-refused-unchanged "$(l3 rule mode) $(maprules)" "mode: direct (hook: IPv4) 0" "after the refused file"
expect apply-rule l3 apply -f "$WORK/rule.conf"
expect_eq apply-rule-mode "$(l3 rule mode) $(maprules)" "mode: rule 1" "mode, --map rules"
out=$(sendrecv inet 192.0.2.2 $((12 << 2)) 3)
expect_eq apply-rule-rewrites "$out" "received=3 expected=3 missing=0 dst=10.80.0.3" "receiver"
exit 0
