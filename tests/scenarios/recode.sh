# shellcheck shell=bash
# recode: one VIP with several DSCP codes (issue 23, section 2). A VIP moves from code 19 to
# code 20 while a client keeps asking, without one failed request; and a dual-stack VIP (an IPv4
# and an IPv6 address with one code) set up on the real servers by `l3dsr apply` of a file.
#
#   client ── router ─┬─ director   (l3dsr director service/real add, service edit --dscp)
#                     ├─ rs1        (l3dsr apply, realserver up/down --dscp)
#                     └─ rs2
#   (tests/lib/topo.sh: two real servers, IPv4 and IPv6)
#
# VIP 10.0.0.1 starts with DSCP 19 on the director and on both real servers. The re-code, as
# docs/realserver.md gives it: `realserver up --dscp 20` on every real server (20 beside 19),
# `director service edit --dscp 20`, then `realserver down --dscp 19` on every real server.
# recode.d/client.py sends one HTTP request after the other (each its own connection) from
# before the first step until after the last, at least 200. The dual-stack VIP is 10.0.0.5 and
# 2001:db8:80::5, both DSCP 23. director.d/server.py answers on the real servers.
#
# Cases:
#   setup                 every command of the setup succeeded (else all cases fail with it)
#   dualstack-apply       apply of the file on each real server sets up both addresses with code
#                         23 (and 10.0.0.1 with 19); apply again prints "no change"
#   dualstack-ipv4, dualstack-ipv6
#                         20 requests to each address through the director, all answered from
#                         that address
#   dualstack-counters    both entries of code 23 (ipv4 and ipv6) counted packets (the two real
#                         servers together)
#   recode-add            `realserver up --dscp 20` on each real server adds the second code
#                         ("which has DSCP 19, 20 now"); `save` writes `dscp: [19, 20]`
#   recode-bad-code       `realserver down --dscp 7`: exit 2, the error names the VIP's codes,
#                         the table is unchanged
#   recode-remove         `realserver down --dscp 19` on each real server takes only 19 off ("which
#                         stays up with DSCP 20"); `realserver show` then lists code 20 alone, ok
#   recode-no-failure     at least 200 requests over the whole re-code, every one answered from
#                         the VIP
#   recode-counters       the per-entry counters (`rule list -o json`, both real servers): 19
#                         counted and 20 did not exist before; after the director's edit 20 counts
#                         and 19 stands still; after the removal 19 is gone and 20 still counts

set -u

topo_init rc- 46 2
NS_RS1=${RS_NS[0]} NS_RS2=${RS_NS[1]}
RS1_4=${RS_IP4[0]} RS1_6=${RS_IP6[0]} RS2_4=${RS_IP4[1]} RS2_6=${RS_IP6[1]}
VIP=10.0.0.1 OLD=19 NEW=20
VIPD4=10.0.0.5 VIPD6=2001:db8:80::5 DUAL=23
PORT=80 UDP_PORT=7 N_MIN=200

TOKEN=l3dsr-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 16)
WORK=$PWD
SERVER=$(dirname "$0")/director.d/server.py
CLIENT=$(dirname "$0")/recode.d/client.py
BIN=$L3DSR_BIN
# The records of 'realserver up' are kept by network namespace inode, which a namespace of an
# earlier scenario may have had: this scenario's own directory.
export L3DSR_STATE_DIR=$WORK/run-l3dsr

SETUP_ERR=
# step (tests/lib/dsrlab.sh) writes each output to last.out alone too.
# shellcheck disable=SC2034 # read by step
STEP_LAST=$WORK/last.out
BG_PIDS=()
on_exit teardown_all

director_setup() {
	local s
	for s in "$VIP:$PORT $OLD $RS1_4 $RS2_4" "$VIPD4:$PORT $DUAL $RS1_4 $RS2_4" "[$VIPD6]:$PORT $DUAL $RS1_6 $RS2_6"; do
		# shellcheck disable=SC2086 # four words on purpose
		set -- $s
		step nsx "$NS_DIR" "$BIN" director service add --vip "$1" --proto tcp --dscp "$2" --scheduler wlc || return 1
		step nsx "$NS_DIR" "$BIN" director real add --vip "$1" --proto tcp --real "$3" --weight 100 || return 1
		step nsx "$NS_DIR" "$BIN" director real add --vip "$1" --proto tcp --real "$4" --weight 100 || return 1
	done
}

# The real servers' file: the dual-stack VIP's two addresses share code 23.
cat >"$WORK/rs.conf" <<EOF
realserver:
  vips:
    - {vip: $VIP, dscp: $OLD}
    - {vip: $VIPD4, dscp: $DUAL}
    - {vip: $VIPD6, dscp: $DUAL}
EOF

realserver_setup() {
	local n
	for n in "$NS_RS1" "$NS_RS2"; do
		step nsx "$n" "$BIN" apply -f "$WORK/rs.conf" || return 1
		nsx "$n" "$BIN" apply -f "$WORK/rs.conf" >"$WORK/apply2.$n" 2>&1
	done
}

# packets FAM CODE ADDR: the packets of the table entry FAM CODE -> ADDR on rs1 and on rs2
# ("none" where there is no such entry), as "RS1 RS2".
packets() {
	local n out=()
	for n in "$NS_RS1" "$NS_RS2"; do
		out+=("$(nsx "$n" "$BIN" rule list -o json 2>&1 | python3 -c '
import json, sys
try:
    e = [e for e in json.load(sys.stdin) if e["family"] == sys.argv[1] and e["dscp"] == int(sys.argv[2]) and e["vip"] == sys.argv[3]]
except ValueError:
    e = None
print("error" if e is None else e[0]["packets"] if e else "none")' "$1" "$2" "$3" 2>&1 | squash)")
	done
	echo "${out[@]}"
}

# sum A B: A + B, for two counts (else "x").
sum() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] && echo $(($1 + $2)) || echo x; }

done_requests() { wc -l <"$WORK/recode.out" 2>/dev/null || echo 0; }

# until_requests N: wait (up to 120 s) until the client made N requests.
# shellcheck disable=SC2317 # run by wait_for
at_least() { (($(done_requests) >= $1)); }
until_requests() { wait_for 120 at_least "$1"; }

# ---------------------------------------------------------------------------------------------
ALL_CASES=(setup dualstack-apply dualstack-ipv4 dualstack-ipv6 dualstack-counters recode-add
	recode-bad-code recode-remove recode-no-failure recode-counters)

log "modules"
modprobe -a ip_vs ip_vs_wlc 2>>"$WORK/setup.log" || true
step topo_up
director_setup
realserver_setup
[[ -n $SETUP_ERR ]] || rs_servers_start "$SERVER" "$PORT" "$UDP_PORT" "$VIP" "$VIPD4" "$VIPD6"
if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup

# --- dual stack, set up by apply
applied=$(grep -c -e "^set up VIP $VIPD4 (dscp, DSCP $DUAL)$" -e "^set up VIP $VIPD6 (dscp, DSCP $DUAL)$" \
	-e "^set up VIP $VIP (dscp, DSCP $OLD)$" "$WORK/setup.log")
again=$(cat "$WORK/apply2.$NS_RS1" "$WORK/apply2.$NS_RS2" | squash)
if [[ $applied == 6 && $again == "no change no change" ]]; then
	pass dualstack-apply
else
	fail dualstack-apply "want 'set up VIP ...' for the 3 VIPs on both real servers and 'no change' from apply again; got $applied set-up lines ($(grep '^set up' "$WORK/setup.log" | squash)), again: '$again'"
fi
touch "$WORK/stop.dual"
for f in 4 6; do
	if [[ $f == 4 ]]; then a=$VIPD4; else a=$VIPD6; fi
	timeout 200 ip netns exec "$NS_CLI" python3 "$CLIENT" "$a" "$PORT" "$TOKEN" "$WORK/dual$f.out" \
		"$WORK/stop.dual" 20 0 120 2>"$WORK/dual$f.err"
	ok=$(grep -c " ok .* local=$a " "$WORK/dual$f.out" 2>/dev/null)
	if [[ $ok == 20 ]]; then
		pass "dualstack-ipv$f"
	else
		fail "dualstack-ipv$f" "want 20 answers from $a; got $ok: $(grep -m 2 ' fail ' "$WORK/dual$f.out" | squash) $(squash <"$WORK/dual$f.err")"
	fi
done
read -r d41 d42 < <(packets ipv4 "$DUAL" "$VIPD4")
read -r d61 d62 < <(packets ipv6 "$DUAL" "$VIPD6")
s4=$(sum "$d41" "$d42") s6=$(sum "$d61" "$d62")
if [[ $s4$s6 =~ ^[0-9]+$ ]] && ((s4 > 0 && s6 > 0)); then
	pass dualstack-counters
else
	fail dualstack-counters "want packets > 0 on ipv4 $DUAL -> $VIPD4 and on ipv6 $DUAL -> $VIPD6 (both real servers together); got rs1/rs2 $d41/$d42 and $d61/$d62"
fi

# --- the re-code, under a client that never stops asking
(exec timeout 500 ip netns exec "$NS_CLI" python3 "$CLIENT" "$VIP" "$PORT" "$TOKEN" "$WORK/recode.out" \
	"$WORK/stop.recode" "$N_MIN" 0.05 450) 2>"$WORK/recode.err" &
CLIENT_PID=$!
BG_PIDS+=("$CLIENT_PID")
until_requests 20
read -r a1 a2 < <(packets ipv4 "$OLD" "$VIP")
read -r an1 an2 < <(packets ipv4 "$NEW" "$VIP")
log "before: $OLD $a1/$a2, $NEW $an1/$an2 after $(done_requests) requests"

add_out=
for n in "$NS_RS1" "$NS_RS2"; do
	step nsx "$n" "$BIN" realserver up --vip "$VIP" --dscp "$NEW"
	add_out+=$(cat "$WORK/last.out")$'\n'
done
saved=$(nsx "$NS_RS1" "$BIN" save 2>&1)
bad=$(nsx "$NS_RS1" "$BIN" realserver down --vip "$VIP" --dscp 7 2>&1)
bad_rc=$?
table_after_bad=$(nsx "$NS_RS1" "$BIN" rule list 2>&1 | awk '{print $1, $2, $3, $4}')

step nsx "$NS_DIR" "$BIN" director service edit --vip "$VIP:$PORT" --proto tcp --dscp "$NEW"
n_edit=$(done_requests)
until_requests $((n_edit + 10))
read -r b1 b2 < <(packets ipv4 "$OLD" "$VIP")
read -r bn1 bn2 < <(packets ipv4 "$NEW" "$VIP")
until_requests $(($(done_requests) + 20))
read -r c1 c2 < <(packets ipv4 "$OLD" "$VIP")
read -r cn1 cn2 < <(packets ipv4 "$NEW" "$VIP")
log "after the edit: $OLD $b1/$b2 then $c1/$c2, $NEW $bn1/$bn2 then $cn1/$cn2"

table_before_rm=$(nsx "$NS_RS1" "$BIN" rule list 2>&1 | awk '{print $1, $2, $3, $4}')
rm_out=
for n in "$NS_RS1" "$NS_RS2"; do
	step nsx "$n" "$BIN" realserver down --vip "$VIP" --dscp "$OLD"
	rm_out+=$(cat "$WORK/last.out")$'\n'
done
shown=$(nsx "$NS_RS1" "$BIN" realserver show 2>&1)
shown_rc=$?
until_requests $(($(done_requests) + 20))
touch "$WORK/stop.recode"
wait "$CLIENT_PID"
read -r d1 d2 < <(packets ipv4 "$OLD" "$VIP")
read -r dn1 dn2 < <(packets ipv4 "$NEW" "$VIP")
log "after the removal: $OLD $d1/$d2, $NEW $dn1/$dn2 after $(done_requests) requests"

if [[ -z $SETUP_ERR && $(grep -c "^set up VIP $VIP (dscp, DSCP $NEW), which has DSCP $OLD, $NEW now:$" <<<"$add_out") == 2 ]] &&
	grep -q "^      dscp: \[$OLD, $NEW\]$" <<<"$saved"; then
	pass recode-add
else
	fail recode-add "want 'set up VIP $VIP (dscp, DSCP $NEW), which has DSCP $OLD, $NEW now:' on both real servers and 'dscp: [$OLD, $NEW]' in save; got '$(squash <<<"$add_out")', save '$(squash <<<"$saved")' ${SETUP_ERR:-}"
fi

if ((bad_rc == 2)) && [[ $bad == *"VIP $VIP has no DSCP 7: its codes are $OLD, $NEW;"* && $table_after_bad == "$table_before_rm" ]] &&
	grep -q "ipv4 $OLD any $VIP" <<<"$table_after_bad"; then
	pass recode-bad-code
else
	fail recode-bad-code "want exit 2 naming codes $OLD, $NEW and the table unchanged; got exit $bad_rc '$(squash <<<"$bad")', table '$(squash <<<"$table_after_bad")' then '$(squash <<<"$table_before_rm")'"
fi

if [[ -z $SETUP_ERR && $(grep -c "^took DSCP $OLD off VIP $VIP (dscp), which stays up with DSCP $NEW:$" <<<"$rm_out") == 2 ]] &&
	((shown_rc == 0)) && [[ $(grep -c "^$VIP " <<<"$shown") == 1 ]] && grep -Eq "^$VIP +dscp +$NEW +any +- +ok " <<<"$shown"; then
	pass recode-remove
else
	fail recode-remove "want 'took DSCP $OLD off VIP $VIP (dscp), which stays up with DSCP $NEW:' on both real servers and show listing $VIP with code $NEW alone, ok; got '$(squash <<<"$rm_out")', show exit $shown_rc '$(squash <<<"$shown")' ${SETUP_ERR:-}"
fi

total=$(done_requests)
oks=$(grep -c " ok .* local=$VIP " "$WORK/recode.out")
if ((total >= N_MIN && oks == total)); then
	pass recode-no-failure
else
	fail recode-no-failure "want at least $N_MIN requests, all answered from $VIP; got $oks of $total: $(grep -m 3 ' fail ' "$WORK/recode.out" | squash) $(squash <"$WORK/recode.err")"
fi

sa=$(sum "$a1" "$a2") sb=$(sum "$b1" "$b2") sc=$(sum "$c1" "$c2")
snb=$(sum "$bn1" "$bn2") snc=$(sum "$cn1" "$cn2") snd=$(sum "$dn1" "$dn2")
if [[ $sa$sb$sc$snb$snc$snd =~ ^[0-9]+$ && $an1$an2 == nonenone && $d1$d2 == nonenone ]] &&
	((sa > 0 && snb > 0 && sc == sb && snc > snb && snd > snc)); then
	pass recode-counters
else
	fail recode-counters "want (rs1/rs2) before: $OLD > 0, no $NEW; after the edit: $NEW > 0 and growing, $OLD still; after the removal: no $OLD, $NEW growing; got before $OLD $a1/$a2 $NEW $an1/$an2; after the edit $OLD $b1/$b2 -> $c1/$c2, $NEW $bn1/$bn2 -> $cn1/$cn2; after the removal $OLD $d1/$d2, $NEW $dn1/$dn2"
fi
exit 0
