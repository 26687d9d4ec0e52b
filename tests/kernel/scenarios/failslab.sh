# shellcheck shell=bash
# failslab: every allocation the module makes, failed one at a time (issue 19), on the debug
# kernel of make test-debug (the stock kernels have no fault injection, so this scenario lives
# outside tests/scenarios).
#
# failslab and fail_page_alloc are aimed at xt_DADDR with their stack filter (require-start/end
# = the module's code): only an allocation with the module in its call stack can fail. Then
# /proc/thread-self/fail-nth (l3dsr-nltest's fail=N) fails the Nth such allocation of one
# request, for N = 1, 2, ... until the request runs with fewer: every allocation site on the
# request's path fails once per round, FS_ROUNDS rounds (default 3).
#
# Each injected failure must: return ENOMEM with an extack message (a namespace creation: fail
# with ENOMEM); leave the live table as it was (dumped and compared) and rewriting (a datagram
# through the --map rule every few failures, and at the end of each operation); and leak
# nothing (the bench's kmemleak scan after the unload). The request must then succeed.
#
# Operations: add (rule mode), add that registers the direct hook (IPv6 entry in direct mode),
# mode direct (hook registration), replace begin / add / commit, namespace creation.
# Cases: OP/fails-clean (every injection of the op), OP/covered (the op ran to success within
# the limit), OP/sites (the distinct call sites that failed, for the record), traffic-*,
# no-splat.
set -u

NLT=$L3DSR_BUILD/map_kernel/l3dsr-nltest
C=fs-client R=fs-rs O=fs-other
WORK=$PWD
PORT=9000
ROUNDS=${FS_ROUNDS:-3}
MAXN=${FS_MAX_N:-400}
FI=/sys/kernel/debug

# shellcheck source=tests/scenarios/map_kernel.d/lib.sh
source "$L3DSR_SRC/tests/scenarios/map_kernel.d/lib.sh"

if [[ ! -d $FI/failslab || ! -d $FI/fail_page_alloc ]]; then
	fail setup "no $FI/failslab or fail_page_alloc: this scenario needs the debug kernel (make test-debug)"
	exit 0
fi
# Injection aimed nowhere: the rest of the boot allocates as usual.
aim_off() {
	local a
	for a in failslab fail_page_alloc; do echo 0 >"$FI/$a/require-start"; echo 0 >"$FI/$a/require-end"; done
}
cleanup() {
	aim_off
	ns_del $C $R $O
	return 0
}
on_exit cleanup

dmesg -C
modprobe xt_DADDR
if ! out=$(topo 2>&1); then
	fail setup "topology: $out"
	exit 0
fi
ns $R iptables -t raw -A PREROUTING -j DADDR --map
ns $R ip6tables -t raw -A PREROUTING -j DADDR --map

# The module's code, from /proc/modules (name size refs deps state address [taint]).
read -r _ size _ _ _ addr _ < <(grep '^xt_DADDR ' /proc/modules)
if ! [[ $addr =~ ^0x[0-9a-f]+$ && $size =~ ^[0-9]+$ ]]; then
	fail setup "xt_DADDR's address and size from /proc/modules: '$addr' '$size'"
	exit 0
fi
end=$(printf '0x%x' $((addr + size)))
for a in failslab fail_page_alloc; do
	echo 0 >"$FI/$a/probability"
	echo N >"$FI/$a/ignore-gfp-wait"
	echo "$addr" >"$FI/$a/require-start"
	echo "$end" >"$FI/$a/require-end"
	echo 32 >"$FI/$a/stacktrace-depth"
	# The stack of each injected failure goes to the log: the sites covered.
	echo 2 >"$FI/$a/verbose"
done
echo 0 >"$FI/fail_page_alloc/min-order"
echo N >"$FI/fail_page_alloc/ignore-gfp-highmem"
log "fault injection aimed at xt_DADDR's code $addr-$end, $ROUNDS rounds"

base() { # the table everything is compared with
	nltn $R flush
	nltn $R add fam=inet dscp=10 vip=10.80.0.1
	nltn $R add fam=inet6 dscp=10 vip=2001:db8:80::1
}
snapshot() { nltn $R dump | grep '^fam=' | sed 's/ packets=[0-9]*//; s/ bytes=[0-9]*//' | sort; }
rewrites() { # CASE: a datagram with DSCP 10 reaches the real server as the VIP
	local out
	out=$(sendrecv inet 192.0.2.2 $((10 << 2)) 1)
	[[ $out == *"received=1 "*"dst=10.80.0.1"* ]] || { echo "not rewritten: $out"; return 1; }
}
# The first frame of the module's in the last injected failure's stack.
# Frames marked "?" are stale stack words, not callers.
site() {
	dmesg -c | grep -v ' ? ' | grep -m 1 -oE '[a-z_0-9]+\+0x[0-9a-f]+/0x[0-9a-f]+ \[xt_DADDR\]' | sed 's/+.*//'
}

declare -A sites=()
# inject OP SETUP CHECK CMD...: for each round and N until CMD runs with no injection:
# SETUP, then CMD with fail=N; an injected failure must be ENOMEM with a message and CHECK must
# hold after it; CMD without injection must then succeed. SETUP and CHECK are function names.
# An injected failure the kernel absorbs (the request succeeds: an allocation with a fallback)
# is counted, not judged: the next SETUP starts again from the same state.
inject() {
	local op=$1 setup=$2 check=$3 r n out bad='' covered=0 count=0 absorbed=0 s rc
	shift 3
	[[ $op =~ ${FS_ONLY:-.} ]] || return 0
	for ((r = 1; r <= ROUNDS; r++)); do
		for ((n = 1; n <= MAXN; n++)); do
			$setup
			dmesg -C
			rc=0
			out=$("$@" "fail=$n" 2>&1) || rc=$?
			if [[ $out == *"fault: not injected"* ]]; then
				[[ $out == *"error:"* ]] && bad+=" [N=$n, no injection, failed: $out]"
				covered=1
				break
			fi
			count=$((count + 1))
			s=$(site)
			[[ -z $s ]] || sites[$op]+=" $s"
			if ((rc == 0)); then
				absorbed=$((absorbed + 1))
			elif [[ $out != *"error: ENOMEM"* || $out == *"(no extack message)"* ]]; then
				bad+=" [N=$n at ${s:-?}: $(tr '\n' ' ' <<<"$out")]"
			elif ! out=$($check 2>&1); then
				bad+=" [N=$n at ${s:-?}, after the failure: $out]"
			fi
			((n % 10)) || rewrites >/dev/null || bad+=" [N=$n: the table stopped rewriting]"
		done
	done
	if [[ -z $bad ]]; then
		pass "$op/fails-clean"
	else
		fail "$op/fails-clean" "$(cut -c1-1500 <<<"$bad")"
	fi
	if ((covered)); then pass "$op/covered"; else fail "$op/covered" "still failing at N=$MAXN"; fi
	s=$(tr ' ' '\n' <<<"${sites[$op]:-}" | sort -u | grep . | tr '\n' ' ')
	log "$op: $count injected failures over $ROUNDS rounds ($absorbed absorbed: the request still succeeded); sites: ${s:-none}"
	expect_eq "$op/sites" "$([[ -n $s ]] && echo some)" some "call sites of the module that failed"
	if out=$(rewrites 2>&1); then pass "$op/traffic"; else fail "$op/traffic" "$out"; fi
}

# --- add, rule mode: the entry is absent after a failure, then goes in.
base
BASE=$(snapshot)
same_base() { [[ "$(snapshot)" == "$BASE" ]] || { echo "table changed: $(snapshot | tr '\n' ' ')"; return 1; }; }
add_setup() { nltn $R del fam=inet dscp=20 >/dev/null 2>&1; }
add_cmd() { nltn $R "$1" add fam=inet dscp=20 vip=10.80.0.2; }
inject add add_setup same_base add_cmd

# --- direct mode: the first IPv6 entry registers the IPv6 hook.
nltn $R flush fam=inet6
nltn $R mode direct
BASE=$(snapshot)
hooks_v4() { [[ "$(nltn $R stats | tail -n 1)" == *"hooks=1"* ]] || { echo "hooks: $(nltn $R stats | tail -n 1)"; return 1; }; }
v6_setup() { nltn $R flush fam=inet6 >/dev/null 2>&1; }
v6_check() { same_base && hooks_v4; }
v6_cmd() { nltn $R "$1" add fam=inet6 dscp=10 vip=2001:db8:80::1; }
inject add-direct-hook v6_setup v6_check v6_cmd
nltn $R mode rule
nltn $R flush fam=inet6

# --- mode direct over IPv4 entries: registering the hook.
BASE=$(snapshot)
rule_mode() { [[ "$(nltn $R stats | tail -n 1)" == "mode=0 hooks=0" ]] || { echo "mode: $(nltn $R stats | tail -n 1)"; return 1; }; }
mode_setup() { nltn $R mode rule >/dev/null 2>&1; }
mode_check() { same_base && rule_mode; }
mode_cmd() { nltn $R "$1" mode direct; }
inject mode-direct mode_setup mode_check mode_cmd
nltn $R mode rule

# --- replace: BEGIN, REPLACE_ADD (three entries in one message), COMMIT, each failed in turn
# on one socket (a staged replace lives as long as its socket).
base
BASE=$(snapshot)
nls_start $R
NEW="fam=inet dscp=10 vip=10.80.0.1 , fam=inet dscp=11 vip=10.80.0.2 , fam=inet6 dscp=10 vip=2001:db8:80::1"
nop() { :; }
begin_cmd() { nls "$1" begin; }
begin_setup() { nls abort id=last >/dev/null 2>&1; }
inject replace-begin begin_setup same_base begin_cmd
radd_setup() { nls begin >/dev/null; }
# After a failed REPLACE_ADD the staged table must be as before: the whole message again goes
# in (no EEXIST from a half-staged first try), and the live table is untouched.
radd_check() {
	local out
	same_base || return 1
	out=$(nls radd id=last "$NEW") || { echo "the whole message again: $out"; return 1; }
}
radd_cmd() { nls "$1" radd id=last "$NEW"; }
inject replace-add radd_setup radd_check radd_cmd
commit_setup() {
	local out
	base
	out=$(nls begin && nls radd id=last "$NEW") || echo "setup: $out" >&2
}
# A failed COMMIT keeps the staged table: committing again must work and give the new table.
commit_check() {
	same_base || return 1
	nls commit id=last >/dev/null || { echo "commit again after the failure failed"; return 1; }
	[[ "$(snapshot | grep -c 'dscp=11 ')" == 1 ]] || { echo "the second commit did not install the new table"; return 1; }
}
commit_cmd() { nls "$1" commit id=last; }
inject replace-commit commit_setup commit_check commit_cmd
nls_stop
base

# --- namespace creation: the module's per-namespace state.
netns_ok() { [[ "$(nltn $R stats | head -n 1)" == *"entries=2"* ]] || { echo "stats: $(nltn $R stats)"; return 1; }; }
netns_cmd() { nlt "$1" newns; }
inject netns-create nop netns_ok netns_cmd
expect netns-after ip netns add fs-new
ip netns del fs-new

aim_off
bad=$(dmesg | grep -E 'BUG:|WARNING:|UBSAN:|Oops' | head -n 3)
expect_eq no-splat "$bad" "" "kernel log"
