# shellcheck shell=bash
# map_direct: the direct path (issue 18), driven without the Go tools through
# build/map_kernel/l3dsr-nltest, on map_kernel's topology (map_kernel.d/lib.sh):
#
#   mk-client  c0 192.0.2.1/24, 2001:db8:1::1/64
#      │
#   mk-rs      r0 RIPs 192.0.2.2, 192.0.2.3, 2001:db8:1::2, 2001:db8:1::3; lo VIPs 10.80.0.1-3, ...
#
# In L3DSR_MODE_DIRECT the module's own PRE_ROUTING hook reads the table: no iptables rule and
# no xtables table exist in mk-rs unless a case adds one.
#
# Cases: mode-* (default rule, unknown mode refused with its extack and nothing changed),
# hook-* (a family's hook is registered only while it has entries, and only in direct mode:
# first entry, last entry deleted, flush, a replace's commit, mode rule; `nft list hooks` shows
# it), pkt-* (rewrites with no rule at all, exact counters, IPv4 and IPv6, ordinary traffic left
# alone), ct-* (conntrack records client<->VIP: the hook runs before it), rule-* (a --map rule
# left in place rewrites nothing twice, counts nothing, and takes over again in mode rule),
# netns-exit (a namespace deleted with hooks registered), rmmod-hooked (unload with a
# namespace's hooks registered and no rule holding the module), no-splat (no WARN, BUG or
# lockdep report in the kernel log).
set -u

NLT=$L3DSR_BUILD/map_kernel/l3dsr-nltest
C=md-client R=md-rs O=md-other
WORK=$PWD
PORT=9000

# shellcheck source=tests/scenarios/map_kernel.d/lib.sh
source "$L3DSR_SRC/tests/scenarios/map_kernel.d/lib.sh"

if [[ ! -x $NLT ]]; then
	fail setup "$NLT missing: make testtools builds it"
	exit 0
fi

cleanup() {
	ns_del $C $R $O
	return 0
}
on_exit cleanup

# hooks NS: the L3DSR_HOOK_* bits STATS_GET reports (1 IPv4, 2 IPv6), and the mode.
hooks() {
	local out
	out=$(nltn "$1" stats 2>&1)
	printf 'mode=%s hooks=%s' "$(field mode "$out")" "$(field hooks "$out")"
}

# ours NS FAMILY: how many of the hooks `nft list hooks` shows at prerouting are the module's.
ours() {
	ns "$1" nft list hooks "$2" 2>/dev/null | grep -c 'daddr_direct_hook'
}

dmesg -C 2>/dev/null
modprobe xt_DADDR
if ! out=$(topo 2>&1); then
	fail setup "topology: $out"
	exit 0
fi

# ---------------------------------------------------------------------------------------------
log "mode"
expect_eq mode-default "$(hooks $R)" "mode=0 hooks=0" "a new namespace's mode"
expect_err mode-unknown EINVAL "MODE" nltn $R mode 7
expect_eq mode-unknown-unchanged "$(hooks $R)" "mode=0 hooks=0" "after MODE 7"
nltn $R add fam=inet dscp=10 vip=10.80.0.1
expect_eq hook-none-in-rule-mode "$(hooks $R)" "mode=0 hooks=0" "an entry in mode rule"
expect mode-direct nltn $R mode direct
expect_eq hook-v4-on-mode "$(hooks $R)" "mode=1 hooks=1" "mode direct over an IPv4 entry"
# `nft list hooks` needs nfnetlink_hook, which Debian's 6.1 does not build: there STATS_GET's
# bits are the only view of the hooks.
HAVE_HOOKLIST=0
! modprobe nfnetlink_hook 2>/dev/null || HAVE_HOOKLIST=1
((HAVE_HOOKLIST)) || log "no nfnetlink_hook in $(uname -r): hook-listed and hook-unlisted are not run"
((!HAVE_HOOKLIST)) || expect_eq hook-listed "$(ours $R ip) $(ours $R ip6)" "1 0" \
	"our hooks in nft list hooks ip, ip6; ip: $(ns $R nft list hooks ip 2>&1 | head -20)"

# ---------------------------------------------------------------------------------------------
log "packets with no rule"
if ns $R iptables-legacy -t raw -S 2>/dev/null | grep -q DADDR || ns $R nft list ruleset | grep -q .; then
	fail pkt-no-rule "mk-rs has rules before the test: $(ns $R nft list ruleset)"
else
	pass pkt-no-rule
fi
s0=$(nltn $R stats)
out=$(sendrecv inet 192.0.2.2 $((10 << 2)) 5)
expect_eq pkt-v4-rewrite "$out" "received=5 expected=5 missing=0 dst=10.80.0.1" "receiver"
out=$(nltn $R get fam=inet dscp=10)
# 5 datagrams and 3 end markers, each 20 + 8 + 5 bytes
expect_eq pkt-v4-counters "$(field packets "$out") $(field bytes "$out")" "8 264" "entry packets, bytes"
s1=$(nltn $R stats)
expect_eq pkt-v4-total "$(($(field rewritten "$s1") - $(field rewritten "$s0")))" 8 "rewritten total delta"

# Ordinary traffic (DSCP 0 to the server's own address) goes through untouched and uncounted as
# a rewrite. It runs before the IPv6 hook exists: with that hook, any IPv6 packet the namespace
# receives meanwhile counts too (most likely neighbour discovery after the IPv6 datagrams), and
# once made the delta 7.
s0=$(nltn $R stats)
out=$(sendrecv inet 192.0.2.2 0 3)
expect_eq pkt-ordinary "$out" "received=3 expected=3 missing=0 dst=192.0.2.2" "DSCP 0 to the RIP"
s1=$(nltn $R stats)
expect_eq pkt-ordinary-counted "$(($(field rewritten "$s1") - $(field rewritten "$s0"))) $(($(field no_entry "$s1") - $(field no_entry "$s0")))" \
	"0 6" "rewritten, no_entry deltas"

expect hook-v6-add nltn $R add fam=inet6 dscp=11 vip=2001:db8:80::1
expect_eq hook-v6-on-first-entry "$(hooks $R)" "mode=1 hooks=3" "after the first IPv6 entry"
out=$(sendrecv inet6 2001:db8:1::2 $((11 << 2)) 5)
expect_eq pkt-v6-rewrite "$out" "received=5 expected=5 missing=0 dst=2001:db8:80::1" "receiver"
out=$(nltn $R get fam=inet6 dscp=11)
expect_eq pkt-v6-counters "$(field packets "$out") $(field bytes "$out")" "8 424" "entry packets, bytes"

# ---------------------------------------------------------------------------------------------
log "conntrack sees client<->VIP"
ns $R nft -f - <<-'EOF'
	table inet l3dsrct {
		chain in {
			type filter hook input priority 0;
			ct state new counter
		}
	}
EOF
ns $R conntrack -F >/dev/null 2>&1
sendrecv inet 192.0.2.2 $((10 << 2)) 3 >/dev/null
sendrecv inet6 2001:db8:1::2 $((11 << 2)) 3 >/dev/null
ct=$(ns $R conntrack -L -p udp 2>/dev/null)
if grep -q 'src=192.0.2.1 dst=10.80.0.1 .*src=10.80.0.1 dst=192.0.2.1' <<<"$ct" &&
	grep -q 'src=2001:db8:1::1 dst=2001:db8:80::1 .*src=2001:db8:80::1 dst=2001:db8:1::1' <<<"$ct" &&
	! grep -q 'dst=192.0.2.2\|dst=2001:db8:1::2 ' <<<"$ct"; then
	pass ct-client-vip
else
	fail ct-client-vip "want client<->VIP entries for IPv4 and IPv6 and none to a RIP: $ct"
fi
ns $R nft delete table inet l3dsrct

# ---------------------------------------------------------------------------------------------
log "a --map rule left in place does nothing twice"
ns $R iptables -t raw -A PREROUTING -j DADDR --map
ns $R ip6tables -t raw -A PREROUTING -j DADDR --map
s0=$(nltn $R stats)
out=$(sendrecv inet 192.0.2.2 $((10 << 2)) 5)
expect_eq rule-idle-rewrite "$out" "received=5 expected=5 missing=0 dst=10.80.0.1" "receiver"
s1=$(nltn $R stats)
# The rule, were it to run after the hook, would count a miss for each of the 8 rewritten packets
# (their destination is now the VIP); a stray IPv6 neighbour packet may count one through the hook.
d_rw=$(($(field rewritten "$s1") - $(field rewritten "$s0")))
d_ne=$(($(field no_entry "$s1") - $(field no_entry "$s0")))
if ((d_rw == 8 && d_ne < 8)); then
	pass rule-idle-counts
else
	fail rule-idle-counts "rewritten +$d_rw (want 8), no_entry +$d_ne (want under 8)"
fi
expect mode-rule nltn $R mode rule
expect_eq hook-off-on-mode-rule "$(hooks $R)" "mode=0 hooks=0" "after mode rule"
((!HAVE_HOOKLIST)) || expect_eq hook-unlisted "$(ours $R ip) $(ours $R ip6)" "0 0" "our hooks in nft list hooks ip, ip6"
out=$(sendrecv inet 192.0.2.2 $((10 << 2)) 3)
expect_eq rule-takes-over "$out" "received=3 expected=3 missing=0 dst=10.80.0.1" "the rule rewrites again"
ns $R iptables -t raw -F
ns $R ip6tables -t raw -F
out=$(sendrecv inet 192.0.2.2 $((10 << 2)) 3)
expect_eq pkt-nothing-without-either "$out" "received=3 expected=3 missing=0 dst=192.0.2.2" "no rule and mode rule: delivered to the RIP as sent"

# ---------------------------------------------------------------------------------------------
log "hooks follow the entries"
nltn $R mode direct
nltn $R del fam=inet dscp=10
expect_eq hook-v4-off-on-last-del "$(hooks $R)" "mode=1 hooks=2" "after deleting the last IPv4 entry"
nltn $R flush
expect_eq hook-off-on-flush "$(hooks $R)" "mode=1 hooks=0" "after flush"
nls_start $R
id=$(nls begin)
nls radd id="$id" fam=inet dscp=12 vip=10.80.0.2 , fam=inet6 dscp=12 vip=2001:db8:80::2
expect_eq hook-not-on-staged "$(hooks $R)" "mode=1 hooks=0" "with the replace only staged"
expect hook-commit nls commit id="$id"
nls_stop
expect_eq hook-on-commit "$(hooks $R)" "mode=1 hooks=3" "after the commit"
out=$(sendrecv inet 192.0.2.3 $((12 << 2)) 3)
expect_eq pkt-after-commit "$out" "received=3 expected=3 missing=0 dst=10.80.0.2" "receiver"
nltn $R flush fam=inet6
expect_eq hook-v6-off-on-family-flush "$(hooks $R)" "mode=1 hooks=1" "after flushing IPv6"

# ---------------------------------------------------------------------------------------------
log "namespace exit and unload with hooks registered"
nltn $O add fam=inet dscp=1 vip=10.80.0.1
nltn $O add fam=inet6 dscp=1 vip=2001:db8:80::1
nltn $O mode direct
expect_eq netns-hooked "$(hooks $O)" "mode=1 hooks=3" "the second namespace"
ip netns del $O
# The namespace's cleanup runs in a worker: give it time, then the module must still be
# usable and unloadable.
sleep 2
expect netns-exit nltn $R stats
# mk-rs keeps its IPv4 hook: no rule holds the module, so it unloads, and the hook goes with it.
if wait_for 20 rmmod xt_DADDR; then
	pass rmmod-hooked
else
	fail rmmod-hooked "rmmod xt_DADDR kept failing for 20 s: $(rmmod xt_DADDR 2>&1) (refcnt $(cat /sys/module/xt_DADDR/refcnt 2>/dev/null))"
fi
((!HAVE_HOOKLIST)) || expect_eq rmmod-unhooked "$(ours $R ip)" 0 "our hooks in nft list hooks ip after rmmod"
out=$(sendrecv inet 192.0.2.3 $((12 << 2)) 3)
expect_eq rmmod-no-rewrite "$out" "received=3 expected=3 missing=0 dst=192.0.2.3" "after the unload: delivered to the RIP as sent"
cleanup
splat=$(dmesg 2>/dev/null | grep -E 'WARNING:|BUG:|Oops|lockdep|UBSAN|general protection' | head -5)
expect_eq no-splat "$splat" "" "kernel log"
exit 0
