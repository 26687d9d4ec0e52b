# shellcheck shell=bash
# verify: `l3dsr verify` live on the wire of a real L3 DSR path (IPv4), in the compact classic
# topology: client -> router -> director (IPVS NAT + DSCP mark in mangle) -> router -> real server
# (map mode: `l3dsr rule add --dscp 21 --vip VIP`), replies straight from the real server.
#
#   client ── router ─┬─ director   VIP on lo, IPVS NAT, DSCP 21 on VIP:80
#                     └─ realserver RIP; VIP on lo, HTTP on VIP:80, map-mode DADDR
#   (tests/lib/topo.sh: one real server, IPv4)
#
# Cases:
#   rs-pass             verify --iface eth0 --duration on the real server while curl runs: exit 0,
#                       "verdict: OK", DSCP 21 mapped to the VIP with replies from the VIP
#   rs-write            the --write file of that run: tcpdump counts packets with DSCP 21 in it, and
#                       `verify --pcap FILE --map 21=VIP` judges it OK as well (exit 0)
#   rs-unmapped         after `l3dsr rule del --dscp 21`: exit 1, names DSCP 21 as unmapped and the
#                       replies from the RIP
#   director-pass       verify --role director --expect VIP:80=21 on the director: exit 0
#   director-wrong      the director's capture judged against --expect VIP:80=22: exit 1, names DSCP 21
#   usage               verify with neither --iface nor --pcap: exit 2
# SC2317: down runs through on_exit.
# shellcheck disable=SC2317
set -u

topo_init lv- 4 1
VIP=10.80.0.1
DSCP=21
WORK=$PWD
BIN=${L3DSR_BIN:?L3DSR_BIN is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
BG=()

down() {
	local p
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
	[[ -e /run/netns/$NS_RS ]] && nsx "$NS_RS" iptables -w -t raw -F 2>/dev/null
	[[ -e /run/netns/$NS_DIR ]] && nsx "$NS_DIR" ipvsadm -C 2>/dev/null
	topo_down
}
on_exit down

setup() {
	topo_up || return 1
	nsx "$NS_DIR" sysctl -q -w net.ipv4.ip_forward=1 || return 1
	ip -n "$NS_DIR" addr add "$VIP/32" dev lo || return 1
	nsx "$NS_RS" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth0.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_announce=2 || return 1
	ip -n "$NS_RS" addr add "$VIP/32" dev lo || return 1
	# Director: IPVS NAT to the real server, and the DSCP code of the VIP on its packets
	# (mangle PREROUTING runs before IPVS; IPVS keeps the TOS).
	nsx "$NS_DIR" ipvsadm -A -t "$VIP:80" -s wlc || return 1
	nsx "$NS_DIR" ipvsadm -a -t "$VIP:80" -r "$RIP4:80" -m || return 1
	nsx "$NS_DIR" sysctl -q -w net.ipv4.vs.conntrack=0 || return 1
	nsx "$NS_DIR" iptables -w -t mangle -A PREROUTING -d "$VIP" -p tcp --dport 80 -j DSCP --set-dscp "$DSCP" ||
		return 1
	# Real server: map mode, then the HTTP server on the VIP.
	nsx "$NS_RS" "$BIN" rule add --dscp "$DSCP" --vip "$VIP" || return 1
	# Its output goes to files: a background job holding the caller's stdout would hang it.
	ip netns exec "$NS_RS" socat -T 20 "TCP4-LISTEN:80,bind=$VIP,reuseaddr,fork" "EXEC:$HERE/verify.d/http.sh" \
		</dev/null >/dev/null 2>"$WORK/socat.err" &
	BG+=($!)
	wait_for 30 bash -c "ip netns exec $NS_RS ss -Hlnt | grep -q '$VIP:80 '" || {
		echo "socat did not listen: $(squash <"$WORK/socat.err")"
		return 1
	}
}

# curls N: N requests from the client, one after the other; prints how many got the page.
curls() {
	local i ok=0
	for ((i = 0; i < $1; i++)); do
		if nsx "$NS_CLI" curl -sS --max-time "${2:-10}" "http://$VIP/" 2>&1 | grep -q "server=$VIP"; then
			ok=$((ok + 1))
		fi
	done
	echo "$ok"
}

# live NAME NS ARGS...: starts `l3dsr verify ARGS` in NS in the background (output in
# $WORK/NAME.out, status in $WORK/NAME.rc) and waits until its capture is open.
live() {
	local name=$1 n=$2
	shift 2
	rm -f "$WORK/$name.rc"
	( ip netns exec "$n" "$BIN" verify "$@" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"; echo $? >"$WORK/$name.rc" ) &
	BG+=($!)
	LIVE_PID=$!
	wait_for 60 grep -q 'capturing on' "$WORK/$name.err"
}
# finish NAME: waits for the verify started by live (so not in $(...)); RC gets its exit status
# and OUT its standard output; the log gets both its outputs.
finish() {
	wait "$LIVE_PID" 2>/dev/null
	RC=$(cat "$WORK/$1.rc" 2>/dev/null || echo none)
	OUT=$(<"$WORK/$1.out")
	cat "$WORK/$1.out" "$WORK/$1.err"
}
# not_started NAME CASE...: the verify started by live never captured; every CASE fails.
not_started() {
	local c
	fail "$2" "verify did not start capturing within 60s: $(show "$1")"
	for c in "${@:3}"; do fail "$c" "no capture"; done
}
# offline ARGS...: `l3dsr verify ARGS` on a capture file; ORC gets its exit status, OFF its output.
offline() {
	OFF=$(timeout 60 "$BIN" verify "$@" 2>&1)
	ORC=$?
}
# judge CASE STATUS WHY: CASE passes when STATUS, that of the test just before, is 0; else it
# fails with WHY (expanded after STATUS, so its $(...) cannot change it).
judge() { if (($2 == 0)); then pass "$1"; else fail "$1" "$3"; fi; }
show() { echo "exit $(cat "$WORK/$1.rc" 2>/dev/null); stdout: $(squash <"$WORK/$1.out"); stderr: $(squash <"$WORK/$1.err")"; }

# Not in $(...): setup starts the server in the background, in this shell.
if ! setup >"$WORK/setup.log" 2>&1; then
	for c in rs-pass rs-write rs-unmapped director-pass director-wrong; do fail "$c" "setup: $(squash <"$WORK/setup.log")"; done
	exit 0
fi

# --- real server, mapping in place ----------------------------------------------------------
log "real server: verify while curl runs"
if live rs "$NS_RS" --iface eth0 --duration 12s --write "$WORK/rs.pcap"; then
	got=$(curls 4)
	finish rs
	[[ $RC == 0 && $got -gt 0 && $OUT == *"verdict: OK"* && $OUT =~ (^|$'\n')$DSCP\ +[0-9]+\ +[0-9]+\ +$VIP\ \(any\) ]]
	judge rs-pass $? "want exit 0, 'verdict: OK' and a DSCP $DSCP row with VIP $VIP after $got/4 good curls; $(show rs)"
	n=$(timeout 30 tcpdump -n -r "$WORK/rs.pcap" "ip and (ip[1] & 0xfc) >> 2 == $DSCP and dst host $RIP4" 2>/dev/null | wc -l)
	offline --pcap "$WORK/rs.pcap" --map "$DSCP=$VIP"
	((n > 0 && ORC == 0)) && [[ $OFF == *"verdict: OK"* ]]
	judge rs-write $? "want >0 packets with DSCP $DSCP to $RIP4 in the --write file and verify --pcap exit 0; got $n packets, exit $ORC: $(squash <<<"$OFF")"
else
	not_started rs rs-pass rs-write
fi

# --- director ----------------------------------------------------------------------------------
log "director: verify --role director while curl runs"
if live dir "$NS_DIR" --iface eth0 --role director --expect "$VIP:80=$DSCP" --duration 12s --write "$WORK/dir.pcap"; then
	got=$(curls 3)
	finish dir
	[[ $RC == 0 && $OUT == *"verdict: OK"* && $OUT == *"$VIP:80"*"$RIP4"* ]]
	judge director-pass $? "want exit 0 and 'verdict: OK' with real server $RIP4 after $got/3 good curls; $(show dir)"
	offline --pcap "$WORK/dir.pcap" --role director --expect "$VIP:80=22"
	((ORC == 1)) && [[ $OFF == *"carry DSCP $DSCP instead of 22"* ]]
	judge director-wrong $? "want exit 1 naming DSCP $DSCP instead of 22; got exit $ORC: $(squash <<<"$OFF")"
else
	not_started dir director-pass director-wrong
fi

# --- real server, mapping deleted -------------------------------------------------------------
log "real server: delete the mapping, verify again"
if ! out=$(nsx "$NS_RS" "$BIN" rule del --dscp "$DSCP" 2>&1); then
	fail rs-unmapped "l3dsr rule del --dscp $DSCP failed: $(squash <<<"$out")"
elif live rsx "$NS_RS" --iface eth0 --duration 10s; then
	got=$(curls 2 3)
	finish rsx
	[[ $RC == 1 && $OUT == *"verdict: FAILED"* && $OUT == *"the table maps no VIP to DSCP $DSCP"* ]]
	judge rs-unmapped $? "want exit 1 naming DSCP $DSCP as unmapped ($got/2 curls got a page); $(show rsx)"
else
	not_started rsx rs-unmapped
fi

out=$("$BIN" verify 2>&1)
expect_eq usage "$?" 2 "verify without --iface or --pcap: exit status (output: $(squash <<<"$out"))"
exit 0
