# shellcheck shell=bash
# mh_order: two directors whose mh service got the same four reals by hand in different orders
# pick different reals for the same flows; once `l3dsr apply` has applied one config on both,
# they pick the same real for every flow (issue 20).
#
# ip_vs_mh builds its lookup table from the destinations in the order they were added (the kernel
# lists a service's newest destination first, and mh walks that list), and its
# hash keys are constants, so two directors with the same reals in the same order map every flow
# alike. l3dsr keeps an mh service's reals in one canonical order (by address, then port):
# apply reorders a service IPVS holds out of order.
#
# Namespaces: mo-d1 and mo-d2, the directors, each with the VIP 10.0.0.100 on lo, a dummy link
# with 192.0.2.1/24 (the reals 192.0.2.11-14, direct routing: the packets IPVS sends them vanish
# in the dummy link, which is all the test needs: the connection entry records the real), and
# a veth to a client namespace (mo-c1, mo-c2), the client 10.8.0.2 on both sides, so that the
# hash of a (client address, port) is the same on both. The service is
# `ipvsadm -A -t 10.0.0.100:80 -s mh -b mh-port`, so the client's port picks the real.
#
# A probe sends one SYN from each of PROBES (3,000) client ports (python, non-blocking connects) and reads
# `ipvsadm -Lnc`: port -> real, one line a port.
#
# Cases:
#   setup          every command of the setup succeeded (else all cases fail with it)
#   before-differ  the probe of ports from 40000 gives PROBES entries on each director, and the two
#                  mappings differ (the reals' orders differ: the test can fail)
#   plan-reorder   `apply --dry-run` of the config (`l3dsr save` on mo-d1) names the reorder, on
#                  both directors
#   apply          `apply` exits 0 on both and says what it reordered
#   same-order     `ipvsadm -Ln --nosort` (the kernel's list, which mh walks; without --nosort
#                  ipvsadm sorts) lists the reals in the same order on both, the reals added by address: the newest,
#                  192.0.2.14, first
#   after-same     the probe of ports from 50000 (new ports: the first probe's connection
#                  entries outlive the reorder) gives PROBES entries on each, the same mapping on
#                  both, spread over at least two reals
#   noop           `apply --dry-run` says "no change" on both afterwards
#   model-agrees   internal/ipvs's model of ip_vs_mh (tests/tools/mhpick, reading each director's
#                  service and reals in the kernel's order) names, for every probed port, the real
#                  the kernel picked: both probes (before, when the directors differ, and after),
#                  on both directors, line for line
#   no-mh          a kernel without ip_vs_mh (the module unloaded, and modprobe told to fail for
#                  it): `apply` of the same config in a new namespace exits 2 naming the
#                  scheduler and 'modprobe ip_vs_mh', and leaves IPVS, nftables, the addresses
#                  and the IPVS sysctls of the namespace as they were

set -u

WORK=$PWD
BIN=$L3DSR_BIN
SETUP_ERR=
VIP=10.0.0.100
ALL_CASES=(setup before-differ plan-reorder apply same-order after-same noop model-agrees no-mh)
# The reals, in the order each director gets them by hand: neither is the canonical one.
ORDER1=(192.0.2.13 192.0.2.11 192.0.2.14 192.0.2.12)
ORDER2=(192.0.2.12 192.0.2.14 192.0.2.11 192.0.2.13)

on_exit "ns_del mo-c1 mo-d1 mo-c2 mo-d2"

l3() {
	local n=$1
	shift
	nsx "$n" "$BIN" "$@"
}

# director N REAL...: client and director namespaces, the link, the VIP, the service by hand.
director() {
	local n=$1 d=mo-d$1 r
	shift
	step ns_pair "mo-c$n" "$d" 10.8.0.2/24
	step ip -n "mo-c$n" route add default via 10.8.0.1
	step ip -n "$d" addr add 10.8.0.1/24 dev r0
	step ip -n "$d" addr add "$VIP/32" dev lo
	step ip -n "$d" link add dummy0 type dummy
	step ip -n "$d" link set dummy0 up
	step ip -n "$d" addr add 192.0.2.1/24 dev dummy0
	step nsx "$d" ipvsadm -A -t "$VIP:80" -s mh -b mh-port
	for r in "$@"; do
		step nsx "$d" ipvsadm -a -t "$VIP:80" -r "$r:80" -g -w 1
	done
}

# Maglev's table depends on the reals' order only where two reals contend for a slot late in
# its fill: for four equal reals in a table of 4,093 about 0.1-0.5% of the slots (a model of
# ip_vs_mh's fill says so). So the probes are many: a flow is one slot, and the hash keys are
# constants, so which ports land on such a slot is fixed, not chance.
PROBES=${MH_ORDER_PROBES:-3000}

# probe N FIRST: a SYN from each of PROBES client ports from FIRST through mo-cN, then
# director N's connection entries of those ports as "PORT REAL", sorted by port.
probe() {
	local n=$1 first=$2
	nsx "mo-c$n" python3 - "$first" "$PROBES" <<'EOF' >>"$WORK/probe.log" 2>&1
import resource, socket, sys, time
first, count = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (count + 64, count + 64))
socks = []
for port in range(first, first + count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.8.0.2", port))
    s.setblocking(False)
    s.connect_ex(("10.0.0.100", 80))
    socks.append(s)
time.sleep(1)
EOF
	nsx "mo-d$n" ipvsadm -Lnc | awk -v lo="$first" -v hi="$((first + PROBES - 1))" '
		$1 == "TCP" { split($4, c, ":"); split($6, r, ":"); if (c[2] >= lo && c[2] <= hi) print c[2], r[1] }' |
		sort -n -u
}

log "modules"
modprobe -a ip_vs ip_vs_mh 2>>"$WORK/setup.log" || true
director 1 "${ORDER1[@]}"
director 2 "${ORDER2[@]}"
if [[ -n $SETUP_ERR ]]; then
	for c in "${ALL_CASES[@]}"; do fail "$c" "setup: $SETUP_ERR"; done
	exit 0
fi
pass setup

# probe_both WHEN FIRST: probe both directors from port FIRST; P1 and P2 are their mappings,
# N1 and N2 their numbers of entries, APART the number of ports they map apart.
probe_both() {
	P1=$(probe 1 "$2")
	P2=$(probe 2 "$2")
	N1=$(grep -c . <<<"$P1")
	N2=$(grep -c . <<<"$P2")
	APART=$(diff <(echo "$P1") <(echo "$P2") | grep -c '^<')
	log "$1: $N1 and $N2 entries, $APART ports apart: $(diff <(echo "$P1") <(echo "$P2") | grep '^[<>]' | head -n 20 | squash)"
	model_check "$1" "$2" 1 "$P1"
	model_check "$1" "$2" 2 "$P2"
}

# model_check WHEN FIRST N PROBED: mhpick's lines for director N's ports from FIRST must be PROBED,
# the kernel's; what differs goes to MODEL_ERR.
MODEL_ERR=
model_check() {
	local m rc
	m=$(nsx "mo-d$3" "$L3DSR_BUILD/mhpick" -vip "$VIP:80" -proto tcp -client 10.8.0.2 -from "$2" -count "$PROBES" 2>&1)
	rc=$?
	if [[ $rc != 0 ]]; then
		MODEL_ERR+=" $1, director $3: mhpick exit $rc: $(head -n 3 <<<"$m" | squash);"
	elif [[ $m != "$4" ]]; then
		MODEL_ERR+=" $1, director $3: $(diff <(echo "$4") <(echo "$m") | grep -c '^<') of the kernel's lines differ (< kernel, > model): $(diff <(echo "$4") <(echo "$m") | grep '^[<>]' | head -n 10 | squash);"
	fi
	log "model $1, director $3: exit $rc, $(grep -c . <<<"$m") lines"
}

# --- before: the orders differ, so do the mappings
probe_both before 40000
if [[ $N1 == "$PROBES" && $N2 == "$PROBES" && $P1 != "$P2" ]]; then
	pass before-differ
else
	fail before-differ "want $PROBES entries on each and different mappings; got $N1 and $N2 entries, $APART ports apart"
fi

# --- apply one config on both
l3 mo-d1 save >"$WORK/mh.conf" 2>"$WORK/save.err"
log "config: $(squash <"$WORK/mh.conf")"
want_plan="reorder the reals of service tcp $VIP:80 for mh"
plans_ok=1
applies_ok=1
msgs=
for n in 1 2; do
	plan=$(l3 "mo-d$n" apply --dry-run -f "$WORK/mh.conf" 2>&1)
	[[ $plan == *"$want_plan"* ]] || { plans_ok=0; msgs+=" director $n plan: $(squash <<<"$plan");"; }
	out=$(l3 "mo-d$n" apply -f "$WORK/mh.conf" 2>&1)
	rc=$?
	log "apply on director $n (exit $rc): $out"
	[[ $rc == 0 && $out == *"reordered 4 reals of tcp $VIP:80 for mh"* ]] || { applies_ok=0; msgs+=" director $n apply exit $rc: $(squash <<<"$out");"; }
done
if [[ $plans_ok == 1 ]]; then pass plan-reorder; else fail plan-reorder "want '$want_plan' in both dry runs;$msgs save: $(squash <"$WORK/save.err")"; fi
if [[ $applies_ok == 1 ]]; then pass apply; else fail apply "want exit 0 and 'reordered N reals of ... for mh' on both;$msgs"; fi

# --- after: one order, one mapping
s1=$(nsx mo-d1 ipvsadm -Ln --nosort)
s2=$(nsx mo-d2 ipvsadm -Ln --nosort)
# The reals' lines only: their connection counts differ between the two.
reals=$(grep -o '192\.0\.2\.1[1-4]' <<<"$s1" | squash)
reals2=$(grep -o '192\.0\.2\.1[1-4]' <<<"$s2" | squash)
if [[ $reals == "$reals2" && $reals == "192.0.2.14 192.0.2.13 192.0.2.12 192.0.2.11" ]]; then
	pass same-order
else
	fail same-order "want the same ipvsadm -Ln --nosort on both, reals listed 14 13 12 11; director 1: $(squash <<<"$s1"); director 2: $(squash <<<"$s2")"
fi

probe_both after 50000
used=$(awk '{print $2}' <<<"$P1" | sort -u | grep -c .)
if [[ $N1 == "$PROBES" && $N2 == "$PROBES" && $P1 == "$P2" && $used -ge 2 ]]; then
	pass after-same
else
	fail after-same "want $PROBES entries on each, one mapping, over 2+ reals; got $N1 and $N2 entries, $used reals, $APART ports apart"
fi

noop=
for n in 1 2; do
	plan=$(l3 "mo-d$n" apply --dry-run -f "$WORK/mh.conf" 2>&1)
	[[ $plan == "no change" ]] || noop+=" director $n: $(squash <<<"$plan");"
done
if [[ -z $noop ]]; then pass noop; else fail noop "want 'no change' on both;$noop"; fi

if [[ -z $MODEL_ERR ]]; then
	pass model-agrees
else
	fail model-agrees "want mhpick's 'PORT REAL' lines equal to the probe's, before and after, on both;$MODEL_ERR"
fi

# --- no ip_vs_mh: the directors' services held the module; their namespaces go, then the module
# (a namespace's IPVS is torn down asynchronously), and modprobe fails for it from here on.
NOMH=/etc/modprobe.d/l3dsr-test-no-mh.conf
on_exit "rm -f $NOMH; modprobe ip_vs_mh"
ns_del mo-c1 mo-d1 mo-c2 mo-d2
echo 'install ip_vs_mh /bin/false' >"$NOMH"
for _ in $(seq 100); do
	rmmod ip_vs_mh 2>/dev/null && break
	[[ -d /sys/module/ip_vs_mh ]] || break
	sleep 0.2
done
# state: what apply could change in mo-d3.
state() {
	nsx mo-d3 ipvsadm -Ln
	nsx mo-d3 nft list ruleset
	nsx mo-d3 ip -br addr
	nsx mo-d3 sysctl net.ipv4.vs.sloppy_tcp net.ipv4.vs.sloppy_sctp net.ipv4.vs.conntrack
}
nomh_err=
if [[ -d /sys/module/ip_vs_mh ]]; then
	nomh_err="ip_vs_mh still loaded 20 s after the directors' namespaces went (refcnt $(cat /sys/module/ip_vs_mh/refcnt 2>/dev/null))"
elif modprobe ip_vs_mh 2>/dev/null; then
	nomh_err="modprobe ip_vs_mh succeeded despite $NOMH"
else
	on_exit "ns_del mo-d3"
	ip netns add mo-d3 && ip -n mo-d3 link set lo up
	nsx mo-d3 ipvsadm -Ln >/dev/null 2>&1 # the namespace's IPVS (and its sysctls) exist before the snapshot
	before=$(state 2>&1)
	out=$(l3 mo-d3 apply -f "$WORK/mh.conf" 2>&1)
	rc=$?
	after=$(state 2>&1)
	log "no-mh: apply exit $rc: $(squash <<<"$out")"
	[[ $rc == 2 && $out == *'scheduler "mh" is not available'* && $out == *"'modprobe ip_vs_mh'"* ]] ||
		nomh_err+=" apply: exit $rc, '$(squash <<<"$out")';"
	[[ $before == "$after" ]] || nomh_err+=" the namespace changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | squash);"
	[[ ! -d /sys/module/ip_vs_mh ]] || nomh_err+=" ip_vs_mh got loaded;"
fi
if [[ -z $nomh_err ]]; then
	pass no-mh
else
	fail no-mh "want exit 2 naming scheduler \"mh\" and 'modprobe ip_vs_mh', the namespace unchanged;$nomh_err"
fi
exit 0
