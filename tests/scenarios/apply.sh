# shellcheck shell=bash
# apply: the config file (issue #6). `l3dsr apply` brings a director netns and a real-server
# netns to the state of their files (apply.d/), doing only the differences; `save` prints it
# back; the systemd unit's own command lines bring it back after a simulated reboot.
#
#   adir (director: dir-*.conf)  ── veth ──  ars (real server: rs-*.conf)
#
# Cases:
#   apply-director      dir-v1.conf: ipvsadm -Ln has the 3 services with their schedulers,
#                       persistence, reals and weights; table inet l3dsr marks both VIPs
#   apply-realserver    rs-v1.conf: the VIPs on lo, the DADDR map (rule list) 21 -> 10.0.0.1,
#                       22 -> 2001:db8:80::1, the --map rule in raw PREROUTING (legacy), tunl0 up
#   again-no-change     applying both files again prints exactly "no change", state identical
#   edit                dir-v2.conf (a real removed, a weight changed) and rs-v2.conf (the ipip
#                       VIP dropped): the output names only those changes, and the state
#                       differs only there
#   rollback           rs-full.conf (two VIPs more) with xt_DADDR's max_entries at the 2 entries
#                       the table has: the table's one replace fails at the end of the apply,
#                       exit 1 naming the full table and what was undone; the VIPs, the map,
#                       the rules and the state file are as before
#   bad-unknown-key, bad-dscp, bad-duplicate
#                       exit 2, the file:line of the error on stderr, state unchanged
#   dry-run             dir-v1.conf / rs-v1.conf with --dry-run: exit 0, the plan printed,
#                       state unchanged
#   save-apply          `save` in each netns, then `apply -f` of what it printed: "no change",
#                       state unchanged
#   save-from-dsrtools  `save --from-dsrtools apply.d/dsr.d` prints the VIPs as a realserver
#                       section that parses (apply --dry-run of it exits 0)
#   dsrtools            rs-dsrtools.conf (dsrtools: dsr.d): the dsrtools VIPs are on lo and in
#                       the map (30, 31, 33), 10.0.0.1 once
#   reboot              the namespaces deleted, xt_DADDR and ip_vs unloaded, /run/l3dsr wiped;
#                       fresh namespaces, then the ExecStartPre and ExecStart lines read from
#                       packaging/systemd/l3dsr.service run in each (the config at
#                       /etc/l3dsr/l3dsr.conf through /etc/netns/NS/): the modules are loaded
#                       and the state equals the one before the "reboot". This simulates the
#                       boot: the VM bench has no systemd as init.
#   reload              the unit's ExecReload line afterwards prints "no change"

set -u

NS_DIR=adir NS_RS=ars
DIR4=203.0.113.2 RS4=192.0.2.2 DIR6=2001:db8:d::2 RS6=2001:db8:1::2
WORK=$PWD
HERE=$(dirname "$0")/apply.d
UNIT=$L3DSR_SRC/packaging/systemd/l3dsr.service
BIN=$L3DSR_BIN
# The real-server record lives in the state dir; a reboot wipes /run, the test wipes this.
export L3DSR_STATE_DIR=$WORK/run-l3dsr

# For common.sh's nsx and squash: apply does a lot at once under TCG; long reasons.
# shellcheck disable=SC2034
NSX_TIMEOUT=60 SQUASH_MAX=500

teardown() {
	local n
	for n in "$NS_DIR" "$NS_RS"; do
		[[ -e /run/netns/$n ]] || continue
		nsx "$n" iptables-legacy -w -t raw -F 2>/dev/null
		nsx "$n" ip6tables-legacy -w -t raw -F 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	rm -rf /etc/netns/"$NS_DIR" /etc/netns/"$NS_RS"
	rmdir /etc/l3dsr 2>/dev/null
	return 0
}
on_exit teardown

topo_up() {
	ip netns add "$NS_DIR" && ip netns add "$NS_RS" &&
		ip link add eth0 netns "$NS_DIR" type veth peer name eth0 netns "$NS_RS" || return 1
	ip -n "$NS_DIR" -batch - <<-EOF || return 1
		link set lo up
		link set eth0 up
		addr add $DIR4/24 dev eth0
		addr add $DIR6/64 dev eth0 nodad
		route add 192.0.2.0/24 dev eth0
		route add 2001:db8:1::/64 dev eth0
	EOF
	ip -n "$NS_RS" -batch - <<-EOF || return 1
		link set lo up
		link set eth0 up
		addr add $RS4/24 dev eth0
		addr add $RS6/64 dev eth0 nodad
		route add default dev eth0
		route add ::/0 dev eth0
	EOF
}

# snapshot: the state apply manages, without counters.
snapshot() {
	{
		echo "== ipvs"
		nsx "$NS_DIR" ipvsadm -Ln
		echo "== nft"
		nsx "$NS_DIR" nft list table inet l3dsr
		echo "== director lo"
		ip -n "$NS_DIR" -o addr show dev lo | awk '{print $4}'
		echo "== rs lo"
		ip -n "$NS_RS" -o addr show dev lo | awk '{print $4}'
		echo "== rs map"
		nsx "$NS_RS" "$BIN" rule list -o json | python3 -c '
import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: (e["dscp"], e["vip"])):
    print(e["dscp"], e.get("local", ""), e["vip"])'
		echo "== rs raw"
		nsx "$NS_RS" iptables-legacy -w -t raw -S PREROUTING
		nsx "$NS_RS" ip6tables-legacy -w -t raw -S PREROUTING
		echo "== rs links"
		ip -n "$NS_RS" -o link show | awk '{print $2, $3}' | grep -v '^eth0'
	} 2>&1
}

# apply_in NS FILE [ARGS]: sets OUT, ERR, RC.
apply_in() {
	local n=$1 f=$2
	shift 2
	RC=0
	OUT=$(nsx "$n" "$BIN" apply -f "$f" "$@" 2>"$WORK/err") || RC=$?
	ERR=$(cat "$WORK/err")
	printf '### %s apply -f %s %s: rc %s\n%s\n%s\n' "$n" "$f" "$*" "$RC" "$OUT" "$ERR" >>"$WORK/apply.log"
}

ALL=(apply-director apply-realserver again-no-change edit rollback bad-unknown-key bad-dscp bad-duplicate
	dry-run save-apply save-from-dsrtools dsrtools reboot reload)

log "modules"
modprobe -a ip_vs ip_vs_wlc ip_vs_rr ipip 2>>"$WORK/setup.log"
if ! topo_up 2>>"$WORK/setup.log"; then
	for c in "${ALL[@]}"; do fail "$c" "topology: $(squash <"$WORK/setup.log")"; done
	exit 0
fi

# --- apply-director
apply_in "$NS_DIR" "$HERE/dir-v1.conf"
ipvs=$(nsx "$NS_DIR" ipvsadm -Ln 2>&1)
nft=$(nsx "$NS_DIR" nft list table inet l3dsr 2>&1)
want=(
	'^TCP +10\.0\.0\.1:80 wlc$'
	'^ +-> 192\.0\.2\.2:80 +Masq +100 '
	'^ +-> 192\.0\.2\.3:80 +Masq +100 '
	'^TCP +\[2001:db8:80::1\]:80 rr persistent 300$'
	'^ +-> \[2001:db8:1::2\]:80 +Masq +10 '
	'^UDP +10\.0\.0\.2:53 wlc$'
	'^ +-> 192\.0\.2\.2:53 +Tunnel +1 '
)
miss=$(missing "$ipvs" "${want[@]}")
nsvc=$(grep -cE '^(TCP|UDP)' <<<"$ipvs")
if ((RC == 0)) && [[ -z $miss && $nsvc == 3 ]] && grep -q '10.0.0.1' <<<"$nft" && grep -q '2001:db8:80::1' <<<"$nft"; then
	pass apply-director
else
	fail apply-director "rc $RC ($(squash <<<"$ERR")); want 3 services and lines $miss in ipvsadm -Ln: $(squash <<<"$ipvs"); nft: $(squash <<<"$nft")"
fi

# --- apply-realserver
apply_in "$NS_RS" "$HERE/rs-v1.conf"
snap=$(snapshot)
lo=$(sed -n '/^== rs lo/,/^==/p' <<<"$snap")
map=$(sed -n '/^== rs map/,/^==/p' <<<"$snap")
if ((RC == 0)) && grep -qx '10.0.0.1/32' <<<"$lo" && grep -qx '2001:db8:80::1/128' <<<"$lo" && grep -qx '10.0.0.2/32' <<<"$lo" &&
	grep -qx '21 any 10.0.0.1' <<<"$map" && grep -qx '22 any 2001:db8:80::1' <<<"$map" &&
	grep -q -- '-A PREROUTING -j DADDR --map' <<<"$snap" && grep -Eq '^tunl0@NONE: <[^>]*UP' <<<"$snap"; then
	pass apply-realserver
else
	fail apply-realserver "rc $RC ($(squash <<<"$ERR")); want the 3 VIPs on lo, map 21/22, the --map rule and tunl0 up; got $(sed -n '/^== rs lo/,$p' <<<"$snap" | squash)"
fi

# --- again-no-change
S1=$(snapshot)
apply_in "$NS_DIR" "$HERE/dir-v1.conf"
o1=$OUT r1=$RC
apply_in "$NS_RS" "$HERE/rs-v1.conf"
S2=$(snapshot)
if [[ $r1 == 0 && $RC == 0 && $o1 == "no change" && $OUT == "no change" && $S1 == "$S2" ]]; then
	pass again-no-change
else
	fail again-no-change "want 'no change' twice and the same state; got '$o1' (rc $r1), '$OUT' (rc $RC); diff: $(diff <(echo "$S1") <(echo "$S2") | squash)"
fi

# --- edit: only what the file changed
apply_in "$NS_DIR" "$HERE/dir-v2.conf"
od=$OUT rd=$RC
apply_in "$NS_RS" "$HERE/rs-v2.conf"
S3=$(snapshot)
steps=$(printf '%s\n%s\n' "$od" "$OUT" | grep -v '^  ')
want_steps="delete real 192.0.2.3 from service tcp 10.0.0.1:80
edit real 192.0.2.2 of service tcp 10.0.0.1:80: weight 100 -> 50
take down VIP 10.0.0.2 \\(ipip, MSS [0-9]+\\)"
# Every line of the state that changed must be one of these.
changed=$(diff <(echo "$S1") <(echo "$S3") | grep '^[<>]' |
	grep -vE '^< +-> 192\.0\.2\.3:80 +Masq +100 |^[<>] +-> 192\.0\.2\.2:80 +Masq +(100|50) |^< 10\.0\.0\.2/32$|^[<>] tunl0@NONE: ')
needed=$(diff <(echo "$S1") <(echo "$S3") | grep -cE '^< +-> 192\.0\.2\.3:80 |^> +-> 192\.0\.2\.2:80 +Masq +50 |^< 10\.0\.0\.2/32$')
if [[ $rd == 0 && $RC == 0 && $steps =~ ^$want_steps$ && -z $changed && $needed == 3 ]]; then
	pass edit
else
	fail edit "rc $rd/$RC; want steps '$want_steps', got '$steps'; unexpected changes: '$(squash <<<"$changed")'; $needed of 3 expected changes seen"
fi

# --- rollback: the table's replace, the last thing apply sends, fails
statesum() { find "$L3DSR_STATE_DIR" -name '*.json' -exec md5sum {} + 2>&1 | sort; }
param=/sys/module/xt_DADDR/parameters/max_entries
before=$(snapshot) sums=$(statesum) max=$(cat "$param" 2>&1)
echo 2 >"$param"
apply_in "$NS_RS" "$HERE/rs-full.conf"
echo "$max" >"$param"
after=$(snapshot)
nsx "$NS_RS" "$BIN" realserver show >"$WORK/show.out" 2>&1
rshow=$?
if [[ $RC == 1 && $ERR == *"set up VIP 10.0.0.4 (dscp, DSCP 24)"*"table full"*"the 1 change(s) made before it were undone"* &&
	$before == "$after" && $sums == "$(statesum)" && $rshow == 0 ]]; then
	pass rollback
else
	fail rollback "want exit 1, the full table and '1 change(s) ... undone', and no change; got rc $RC, '$(squash <<<"$ERR")', max_entries was '$max', state diff: $(diff <(echo "$before") <(echo "$after") | squash), state file $(diff <(echo "$sums") <(statesum) | squash), show rc $rshow: $(squash <"$WORK/show.out")"
fi

# --- bad files: exit 2, file:line, nothing changed
badcase() { # CASE NS FILE LINE TEXT
	local c=$1 n=$2 f=$HERE/$3 line=$4 text=$5 before after
	before=$(snapshot)
	apply_in "$n" "$f"
	after=$(snapshot)
	if [[ $RC == 2 && -z $OUT && $ERR == *"$f:$line: "*"$text"* && $before == "$after" ]]; then
		pass "$c"
	else
		fail "$c" "want exit 2, '$f:$line: ...$text' and no change; got rc $RC, stdout '$(squash <<<"$OUT")', stderr '$(squash <<<"$ERR")', state diff: $(diff <(echo "$before") <(echo "$after") | squash)"
	fi
}
badcase bad-unknown-key "$NS_DIR" bad-unknown.conf 6 'unknown key "wieght" in a real server'
badcase bad-dscp "$NS_RS" bad-dscp.conf 5 'dscp 64 is out of range'
badcase bad-duplicate "$NS_DIR" bad-dup.conf 10 'DSCP 21 would stand for two VIPs on real server 192.0.2.2'

# --- dry-run
before=$(snapshot)
apply_in "$NS_DIR" "$HERE/dir-v1.conf" --dry-run
od=$OUT rd=$RC
apply_in "$NS_RS" "$HERE/rs-v1.conf" --dry-run
after=$(snapshot)
if [[ $rd == 0 && $RC == 0 && $od == *"plan (dry run, nothing changed): 2 change(s)"*"add real 192.0.2.3 to service tcp 10.0.0.1:80 (weight 100)"* &&
	$OUT == *"plan (dry run, nothing changed): 1 change(s)"*"set up VIP 10.0.0.2 (ipip)"* && $before == "$after" ]]; then
	pass dry-run
else
	fail dry-run "want the plans and no change; got rc $rd/$RC, '$(squash <<<"$od")' / '$(squash <<<"$OUT")', diff: $(diff <(echo "$before") <(echo "$after") | squash)"
fi

# --- save | apply
before=$(snapshot)
nsx "$NS_DIR" "$BIN" save >"$WORK/dir-saved.conf" 2>"$WORK/save.err"
r1=$?
nsx "$NS_RS" "$BIN" save >"$WORK/rs-saved.conf" 2>>"$WORK/save.err"
r2=$?
apply_in "$NS_DIR" "$WORK/dir-saved.conf"
o1=$OUT a1=$RC
apply_in "$NS_RS" "$WORK/rs-saved.conf"
after=$(snapshot)
if [[ $r1 == 0 && $r2 == 0 && $a1 == 0 && $RC == 0 && $o1 == "no change" && $OUT == "no change" && $before == "$after" ]] &&
	grep -q '^director:' "$WORK/dir-saved.conf" && grep -q 'persistent: 300' "$WORK/dir-saved.conf" &&
	grep -q '^realserver:' "$WORK/rs-saved.conf" && ! grep -q '^director:' "$WORK/rs-saved.conf"; then
	pass save-apply
else
	fail save-apply "save rc $r1/$r2 ($(squash <"$WORK/save.err")), apply rc $a1/$RC: '$o1' / '$OUT'; saved: $(squash <"$WORK/dir-saved.conf") // $(squash <"$WORK/rs-saved.conf")"
fi

# --- save --from-dsrtools
out=$(nsx "$NS_RS" "$BIN" save --from-dsrtools "$HERE/dsr.d" 2>&1)
rc=$?
printf '%s\n' "$out" >"$WORK/from-dsrtools.conf"
apply_in "$NS_RS" "$WORK/from-dsrtools.conf" --dry-run
if [[ $rc == 0 && $RC == 0 ]] && grep -qx '    - vip: 10.0.0.10' <<<"$out" && grep -qx '      dscp: 31' <<<"$out" &&
	grep -qx '      dscp: 33' <<<"$out" && [[ $(grep -c 'vip:' <<<"$out") == 4 ]]; then
	pass save-from-dsrtools
else
	fail save-from-dsrtools "rc $rc / dry-run rc $RC ($(squash <<<"$ERR")); want 4 VIPs with 10.0.0.10 dscp 31 and dscp 33; got $(squash <<<"$out")"
fi

# --- dsrtools merged into the real server's file
apply_in "$NS_RS" "$HERE/rs-dsrtools.conf"
snap=$(snapshot)
map=$(sed -n '/^== rs map/,/^==/p' <<<"$snap")
lo=$(sed -n '/^== rs lo/,/^==/p' <<<"$snap")
if ((RC == 0)) && grep -qx '30 any 10.0.0.9' <<<"$map" && grep -qx '31 any 10.0.0.10' <<<"$map" && grep -qx '33 any 2001:db8:80::9' <<<"$map" &&
	[[ $(grep -c ' 10.0.0.1$' <<<"$map") == 1 ]] && grep -qx '10.0.0.10/32' <<<"$lo" && grep -qx '2001:db8:80::9/128' <<<"$lo"; then
	pass dsrtools
else
	fail dsrtools "rc $RC ($(squash <<<"$ERR")); want map 30/31/33 and the VIPs on lo; got map $(squash <<<"$map"), lo $(squash <<<"$lo")"
fi
FINAL=$(snapshot)

# --- reboot: everything gone, then the unit's own lines
unit_lines() { # KEY: the unit's KEY= lines, in order
	sed -n "s/^$1=//p" "$UNIT"
}
run_unit_line() { # NS LINE: as systemd would: a leading '-' makes a failure harmless
	local n=$1 line=$2 ignore=
	if [[ $line == -* ]]; then ignore=1 line=${line#-}; fi
	# The guest has the binary at $L3DSR_BIN, not /usr/bin/l3dsr (no package installed).
	line=${line//\/usr\/bin\/l3dsr/$BIN}
	# shellcheck disable=SC2086
	nsx "$n" $line >>"$WORK/boot.log" 2>&1 || [[ -n $ignore ]]
}
reboot_err=
for n in "$NS_DIR" "$NS_RS"; do
	nsx "$n" iptables-legacy -w -t raw -F 2>/dev/null
	nsx "$n" ip6tables-legacy -w -t raw -F 2>/dev/null
	ip netns del "$n"
done
rm -rf "$L3DSR_STATE_DIR"
unload_all() {
	local m
	for m in xt_DADDR $(lsmod | awk '$1 ~ /^ip_vs_/ {print $1}') ip_vs; do
		if lsmod | grep -q "^$m "; then modprobe -r "$m" 2>/dev/null || return 1; fi
	done
}
wait_for 30 unload_all || reboot_err="could not unload xt_DADDR / ip_vs: $(lsmod | grep -E '^(xt_DADDR|ip_vs)' | squash)"
if [[ -z $reboot_err ]] && lsmod | grep -qE '^(xt_DADDR|ip_vs) '; then reboot_err="modules still loaded"; fi
pre=$(unit_lines ExecStartPre)
start=$(unit_lines ExecStart)
cond=$(unit_lines ConditionPathExists)
[[ -n $pre && -n $start && $cond == /etc/l3dsr/l3dsr.conf ]] || reboot_err+=" unit: ExecStartPre '$pre', ExecStart '$start', ConditionPathExists '$cond'"
if [[ -z $reboot_err ]]; then
	topo_up 2>>"$WORK/boot.log" || reboot_err="topology: $(squash <"$WORK/boot.log")"
	# ip netns exec bind-mounts /etc/netns/NS/l3dsr over /etc/l3dsr: each netns sees its file
	# at the unit's path.
	mkdir -p /etc/l3dsr /etc/netns/"$NS_DIR"/l3dsr /etc/netns/"$NS_RS"/l3dsr/dsr.d
	cp "$HERE/dir-v2.conf" /etc/netns/"$NS_DIR"/l3dsr/l3dsr.conf
	cp "$HERE/rs-dsrtools.conf" /etc/netns/"$NS_RS"/l3dsr/l3dsr.conf
	cp "$HERE"/dsr.d/*.conf /etc/netns/"$NS_RS"/l3dsr/dsr.d/
	for n in "$NS_DIR" "$NS_RS"; do
		[[ -z $reboot_err ]] || break
		nsx "$n" test -e "$cond" || { reboot_err="$n: ConditionPathExists $cond is false"; break; }
		while IFS= read -r l; do run_unit_line "$n" "$l" || reboot_err+=" $n: ExecStartPre '$l' failed"; done <<<"$pre"
		while IFS= read -r l; do run_unit_line "$n" "$l" || reboot_err+=" $n: ExecStart '$l' failed"; done <<<"$start"
	done
fi
BOOT=$(snapshot)
mods=$(lsmod | awk '$1 == "xt_DADDR" || $1 == "ip_vs" {print $1}' | sort | squash)
if [[ -z $reboot_err && $BOOT == "$FINAL" && $mods == "ip_vs xt_DADDR" ]]; then
	pass reboot
else
	fail reboot "${reboot_err:-} modules loaded: '$mods' (want ip_vs xt_DADDR); state diff to before: $(diff <(echo "$FINAL") <(echo "$BOOT") | head -n 8 | squash); log: $(tail -n 5 "$WORK/boot.log" | squash)"
fi

# --- reload
reload=$(unit_lines ExecReload)
out=
for n in "$NS_DIR" "$NS_RS"; do
	out+=$(nsx "$n" ${reload//\/usr\/bin\/l3dsr/$BIN} 2>&1)" / "
done
if [[ -n $reload && $out == "no change / no change / " && $(snapshot) == "$FINAL" ]]; then
	pass reload
else
	fail reload "ExecReload '$reload' in both netns: want 'no change' twice; got '$(squash <<<"$out")'"
fi
exit 0
