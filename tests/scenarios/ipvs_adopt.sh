# shellcheck shell=bash
# ipvs_adopt: a director whose services ipvsadm made (as keepalived leaves them), beside l3dsr's
# own, read as it is, saved, rebuilt from the file and repaired (issue 24).
#
# One network namespace, the director. A dummy link holds 192.0.2.1/24 and 2001:db8:1::1/64, so
# the direct-routing reals are on the director's subnets. No traffic: what is checked is what the
# kernel holds, as ipvsadm and l3dsr read it.
#
# ipvsadm makes, IPv4 and IPv6: NAT with a persistence netmask, DR with sh-port, one-packet UDP
# NAT, TUN by GUE and by GRE (with a checksum), mh with mh-port by IPIP, an IPv6 NAT service with a
# /64 netmask, an IPv6 DR service, and a firewall-mark service. l3dsr makes a dscp service (IPv4
# and IPv6) and an ipip one, each with a real.
#
# Cases:
#   setup          every command of the setup succeeded (else all cases fail with it)
#   show           `director show` exits 0, and `show -o json` gives every service its true mode
#                  (nat, dr, ipip, dscp), managed only for l3dsr's
#   save           `save` exits 0 and writes every attribute: the modes, persistence_netmask
#                  (255.255.255.0 and 64), scheduler_flags [sh-port] and [mh-port], ops,
#                  tunnel gue with its port, tunnel gre with csum
#   save-noop      `apply --dry-run -f` of the saved file says "no change"
#   rebuild        `ipvsadm -C`, `apply -f` of the saved file, and the firewall-mark service
#                  added back as it was made: `ipvsadm -Sn` is byte-identical to the start
#   rebuild-show   `director show` exits 0 after the rebuild
#   drift-forward  a real's method changed by hand (masq -> route): apply's dry run names
#                  "forwarding route -> masq", apply puts it back, `ipvsadm -Sn` as at the start
#   drift-netmask  the persistence netmask changed by hand: named and put back, the same way
#   drift-flag     sh-port dropped by hand: named and put back, the same way
#   save-refuses   a service of mixed methods: `save` exits 1, names the service and its mode,
#                  and prints no file

set -u

NS=ad-dir
WORK=$PWD
BIN=$L3DSR_BIN
SETUP_ERR=
ALL_CASES=(setup show save save-noop rebuild rebuild-show drift-forward drift-netmask drift-flag save-refuses)

on_exit "ns_del $NS"

d() { nsx "$NS" "$@"; }
l3() { nsx "$NS" "$BIN" "$@"; }

# The ipvsadm services, one command a line, as an operator or keepalived would make them.
IPVSADM_RULES=(
	"-A -t 10.9.0.1:80 -s wlc -p 300 -M 255.255.255.0"
	"-a -t 10.9.0.1:80 -r 192.0.2.50:80 -m -w 100"
	"-A -u 10.9.0.2:53 -s sh -b sh-port"
	"-a -u 10.9.0.2:53 -r 192.0.2.53:53 -g -w 1"
	"-A -u 10.9.0.3:5060 -s rr -o"
	"-a -u 10.9.0.3:5060 -r 192.0.2.54:5060 -m -w 1"
	"-A -t 10.9.0.4:80 -s wrr"
	"-a -t 10.9.0.4:80 -r 192.0.2.60:80 -i --tun-type gue --tun-port 6080 -w 1"
	"-a -t 10.9.0.4:80 -r 192.0.2.61:80 -i --tun-type gre --tun-csum -w 2"
	"-A -t [2001:db8:9::1]:443 -s mh -b mh-port"
	"-a -t [2001:db8:9::1]:443 -r [2001:db8:1::50]:443 -i -w 1"
	"-A -t [2001:db8:9::2]:80 -s wlc -p 60 -M 64"
	"-a -t [2001:db8:9::2]:80 -r [2001:db8:1::52]:80 -m -w 5 -x 100 -y 50"
	"-A -t [2001:db8:9::3]:80 -s rr"
	"-a -t [2001:db8:9::3]:80 -r [2001:db8:1::53]:80 -g -w 1"
)
FWMARK_RULES=("-A -f 7 -s rr" "-a -f 7 -r 192.0.2.70:0 -g -w 1")

ipvsadm_all() {
	local r
	for r in "$@"; do
		# shellcheck disable=SC2086 # one rule, split into its words
		step d ipvsadm $r || return 1
	done
}

setup() {
	step ip netns add "$NS"
	step d ip link set lo up
	step d ip link add dummy0 type dummy
	step d ip link set dummy0 up
	step d ip addr add 192.0.2.1/24 dev dummy0
	step d ip addr add 2001:db8:1::1/64 dev dummy0 nodad
	ipvsadm_all "${IPVSADM_RULES[@]}" "${FWMARK_RULES[@]}"
	step l3 director service add --vip 10.0.0.1:80 --dscp 21
	step l3 director real add --vip 10.0.0.1:80 --real 10.1.0.10
	step l3 director service add --vip '[2001:db8:80::1]:80' --dscp 22
	step l3 director real add --vip '[2001:db8:80::1]:80' --real 2001:db8:e::10
	step l3 director service add --vip 10.0.0.2:80 --mode ipip
	step l3 director real add --vip 10.0.0.2:80 --real 10.1.0.11
}

# modes: each service of `show -o json` as "VIP:PORT MODE managed|unmanaged", sorted.
modes() {
	l3 director show -o json 2>&1 | python3 -c '
import json, sys
try:
    st = json.load(sys.stdin)
except ValueError as e:
    print("not JSON:", e); sys.exit()
for s in st["services"]:
    print("%s:%d %s %s" % (s["vip"], s["port"], s["mode"], "managed" if s["managed"] else "unmanaged"))' | sort
}

# sn: `ipvsadm -Sn`, the byte-for-byte record of the director.
sn() { d ipvsadm -Sn; }

log "modules"
modprobe -a ip_vs ip_vs_wlc ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_mh ipip ip6_tunnel ip_gre fou 2>>"$WORK/setup.log" || true
setup
if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup
sn >"$WORK/before.sn"
log "ipvsadm -Sn at the start: $(squash <"$WORK/before.sn")"

# --- show
show_out=$(l3 director show 2>&1)
show_rc=$?
got=$(modes)
want=$(sort <<'EOF'
10.0.0.1:80 dscp managed
10.0.0.2:80 ipip managed
10.9.0.1:80 nat unmanaged
10.9.0.2:53 dr unmanaged
10.9.0.3:5060 nat unmanaged
10.9.0.4:80 ipip unmanaged
2001:db8:80::1:80 dscp managed
2001:db8:9::1:443 ipip unmanaged
2001:db8:9::2:80 nat unmanaged
2001:db8:9::3:80 dr unmanaged
EOF
)
if [[ $show_rc == 0 && $got == "$want" ]]; then
	pass show
else
	fail show "want exit 0 and modes '$(squash <<<"$want")'; got exit $show_rc, modes '$(squash <<<"$got")'; show: $(squash <<<"$show_out")"
fi
log "director show: $show_out"

# --- save
l3 save >"$WORK/saved.conf" 2>"$WORK/save.err"
save_rc=$?
log "saved: $(cat "$WORK/saved.conf")"
lacks=$(missing "$(cat "$WORK/saved.conf")" \
	'vip: 10\.9\.0\.1:80' 'persistence_netmask: 255\.255\.255\.0' 'scheduler_flags: \[sh-port\]' \
	'scheduler_flags: \[mh-port\]' 'ops: true' 'tunnel: gue, tunnel_port: 6080' 'tunnel: gre, tunnel_checksum: csum' \
	'persistence_netmask: 64$' 'mode: nat' 'mode: dr' 'mode: ipip' 'dscp: 21' 'dscp: 22' \
	'upper_threshold: 100, lower_threshold: 50')
if [[ $save_rc == 0 && -z $lacks ]]; then
	pass save
else
	fail save "want exit 0 and every attribute; got exit $save_rc, lacking $lacks: $(squash <"$WORK/save.err")"
fi

plan=$(l3 apply --dry-run -f "$WORK/saved.conf" 2>&1)
expect_eq save-noop "$plan" "no change" "apply --dry-run of the saved file"

# --- rebuild from the file
rebuild_err=
d ipvsadm -C 2>>"$WORK/setup.log" || rebuild_err="ipvsadm -C failed"
applied=$(l3 apply -f "$WORK/saved.conf" 2>&1) || rebuild_err+=" apply failed: $(squash <<<"$applied")"
log "apply after ipvsadm -C: $applied"
for r in "${FWMARK_RULES[@]}"; do
	# shellcheck disable=SC2086 # one rule, split into its words
	d ipvsadm $r 2>>"$WORK/setup.log" || rebuild_err+=" ipvsadm $r failed"
done
sn >"$WORK/rebuilt.sn"
if [[ -z $rebuild_err ]] && cmp -s "$WORK/before.sn" "$WORK/rebuilt.sn"; then
	pass rebuild
else
	fail rebuild "want ipvsadm -Sn as at the start; $rebuild_err; diff: $(diff "$WORK/before.sn" "$WORK/rebuilt.sn" | squash)"
fi
show_out=$(l3 director show 2>&1)
expect_eq rebuild-show "$?" 0 "director show after the rebuild ($(squash <<<"$show_out"))"

# drift CASE WANT IPVSADM-ARGS: change one attribute by hand; apply's dry run must name it
# (WANT, a fixed string) and apply put it back, to the ipvsadm -Sn of the start.
drift() {
	local c=$1 want=$2 plan out
	shift 2
	if ! out=$(d ipvsadm "$@" 2>&1); then
		fail "$c" "ipvsadm $* failed: $(squash <<<"$out")"
		return
	fi
	plan=$(l3 apply --dry-run -f "$WORK/saved.conf" 2>&1)
	out=$(l3 apply -f "$WORK/saved.conf" 2>&1)
	local rc=$?
	sn >"$WORK/$c.sn"
	if [[ $plan == *"$want"* && $rc == 0 ]] && cmp -s "$WORK/before.sn" "$WORK/$c.sn"; then
		pass "$c"
	else
		fail "$c" "want the plan to name '$want', apply exit 0 and ipvsadm -Sn as at the start; plan: $(squash <<<"$plan"); apply exit $rc: $(squash <<<"$out"); diff: $(diff "$WORK/before.sn" "$WORK/$c.sn" | squash)"
	fi
}
drift drift-forward "edit real 192.0.2.50 of service tcp 10.9.0.1:80: forwarding route -> masq" \
	-e -t 10.9.0.1:80 -r 192.0.2.50:80 -g -w 100
drift drift-netmask "edit service tcp 10.9.0.1:80: persistence_netmask 255.255.0.0 -> 255.255.255.0" \
	-E -t 10.9.0.1:80 -s wlc -p 300 -M 255.255.0.0
drift drift-flag "edit service udp 10.9.0.2:53: scheduler_flags [] -> [sh-port]" \
	-E -u 10.9.0.2:53 -s sh

# --- what save cannot write
refuse_err=
d ipvsadm -A -t 10.9.0.9:80 -s rr 2>>"$WORK/setup.log" || refuse_err="ipvsadm -A failed"
d ipvsadm -a -t 10.9.0.9:80 -r 192.0.2.90:80 -m 2>>"$WORK/setup.log" || refuse_err+=" ipvsadm -a -m failed"
d ipvsadm -a -t 10.9.0.9:80 -r 192.0.2.91:80 -g 2>>"$WORK/setup.log" || refuse_err+=" ipvsadm -a -g failed"
l3 save >"$WORK/refused.conf" 2>"$WORK/refused.err"
rc=$?
msg="service tcp 10.9.0.9:80: its mode is mixed (reals 192.0.2.90 masq, 192.0.2.91 route)"
if [[ -z $refuse_err && $rc == 1 && ! -s $WORK/refused.conf ]] && grep -qF "$msg" "$WORK/refused.err"; then
	pass save-refuses
else
	fail save-refuses "want exit 1, no output and '$msg'; $refuse_err; got exit $rc, $(wc -c <"$WORK/refused.conf") bytes out, stderr: $(squash <"$WORK/refused.err")"
fi
exit 0
