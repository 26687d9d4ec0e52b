# shellcheck shell=bash
# Helpers for scenarios (tests/scenarios/*.sh). tests/vm/guest.sh sources this file, then the
# scenario, in one bash, as root, in a fresh working directory. See tests/README.md.
#
#   pass CASE                  report CASE passed
#   fail CASE REASON...        report CASE failed; REASON says what was expected and what was seen
#   expect CASE CMD...         pass CASE if CMD exits 0, else fail it with CMD's status and output
#   expect_eq CASE GOT WANT [WHAT]
#                              pass CASE if GOT == WANT, else fail "WHAT: want 'WANT', got 'GOT'"
#   ns NAME CMD...             run CMD inside network namespace NAME
#   nsx NAME CMD...            ns under a time limit (NSX_TIMEOUT seconds, default 30), so a
#                              network command that hangs fails its case instead of the scenario
#   ns_del NAME...             kill every process in each namespace, then delete them (one
#                              `ip -batch`); absent ones are skipped; always 0 (for on_exit)
#   ns_pair A B [ADDR/LEN...]  namespaces A and B joined by a veth, c0 in A and r0 in B, both
#                              up with lo; each ADDR on c0 (IPv6 ones without DAD)
#   squash                     stdin as one line for a fail reason: newlines to spaces, runs of
#                              blanks to one, no trailing blank, at most SQUASH_MAX (400) characters
#   missing TEXT REGEX...      prints, quoted, each extended REGEX that matches no line of TEXT
#   on_exit CMD...             run CMD (one string, eval'd) when the scenario exits, last first
#   wait_for SECONDS CMD...    poll CMD (output discarded) until it succeeds; 1 after SECONDS
#   log MSG...                 timestamped line in the scenario log
#
# The client/router/director/real-server topology (topo_init, topo_up, topo_down) is
# tests/lib/topo.sh, sourced at the end of this file; the setup helpers of the scenarios on its
# real servers (step, teardown_all, rs_servers_start, curl_many) are tests/lib/dsrlab.sh, sourced
# after it.
#
# Results are written the moment they happen (a kernel panic later loses nothing): to
# $L3DSR_RESULTS (the guest's second serial port) and echoed as "PASS x (at Ns)"/"FAIL x (at Ns):
# why" into the scenario log, N the seconds since the scenario started (where make test's time
# goes, case by case). Sourced outside the bench (L3DSR_RESULTS unset), only the echo remains,
# which makes a scenario that needs no module runnable by hand on a host.
#
# There is deliberately no `skip`: a case that cannot run is a failure, with the reason.
# Do not `trap ... EXIT` in a scenario: it would replace on_exit's handler. Use on_exit.
# This file sets no shell options; a scenario chooses its own (`set -e` aborts at the first
# failing command, which then is a scenario failure, not a case failure).

: "${L3DSR_SCENARIO:=local}"
: "${L3DSR_DEMO:=0}"

# Result lines are tab-separated and single-line; the host splits them on tabs.
_l3dsr_clean() {
	local s=${*//$'\t'/ }
	s=${s//$'\r'/}
	s=${s//$'\n'/ | }
	printf '%s' "${s:0:600}"
}

_l3dsr_result() { # pass|fail CASE [REASON]
	local kind=$1 c
	c=$(_l3dsr_clean "${2:-unnamed}")
	c=${c// /_}
	if [[ $kind == pass ]]; then
		echo "PASS $c (at ${SECONDS}s)"
		[[ -z ${L3DSR_RESULTS:-} ]] || printf 'pass\t%s/%s\n' "$L3DSR_SCENARIO" "$c" >>"$L3DSR_RESULTS"
	else
		local why
		why=$(_l3dsr_clean "${3:-no reason given}")
		echo "FAIL $c (at ${SECONDS}s): $why"
		[[ -z ${L3DSR_RESULTS:-} ]] || printf 'fail\t%s/%s\t%s\n' "$L3DSR_SCENARIO" "$c" "$why" >>"$L3DSR_RESULTS"
	fi
	# guest.sh counts these to tell a scenario that reported nothing.
	[[ -z ${L3DSR_TALLY:-} ]] || echo "$kind $c" >>"$L3DSR_TALLY"
	return 0
}

pass() { _l3dsr_result pass "$1"; }

fail() {
	local c=$1
	shift
	_l3dsr_result fail "$c" "$*"
}

expect() {
	local c=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	[[ -z $out ]] || printf '%s\n' "$out"
	if ((rc == 0)); then
		pass "$c"
	else
		fail "$c" "\`$*\` exited $rc: $(tail -n 3 <<<"$out")"
	fi
}

expect_eq() {
	if [[ "$2" == "$3" ]]; then
		pass "$1"
	else
		fail "$1" "${4:-value}: want '$3', got '$2'"
	fi
}

ns() {
	local n=$1
	shift
	ip netns exec "$n" "$@"
}

nsx() {
	local n=$1
	shift
	timeout "${NSX_TIMEOUT:-30}" ip netns exec "$n" "$@"
}

ns_del() {
	local n p del=''
	for n in "$@"; do
		[[ -e /run/netns/$n ]] || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
		del+="netns del $n"$'\n'
	done
	[[ -z $del ]] || timeout 20 ip -batch - <<<"$del" >/dev/null 2>&1
	return 0
}

ns_pair() {
	local a=$1 b=$2 x
	shift 2
	timeout 20 ip -batch - <<-EOF || return 1
		netns add $a
		netns add $b
		link add c0 netns $a type veth peer name r0 netns $b
	EOF
	{
		printf 'link set lo up\nlink set c0 up\n'
		for x in "$@"; do
			if [[ $x == *:* ]]; then echo "addr add $x dev c0 nodad"; else echo "addr add $x dev c0"; fi
		done
	} | timeout 20 ip -n "$a" -batch - || return 1
	printf 'link set lo up\nlink set r0 up\n' | timeout 20 ip -n "$b" -batch -
}

# l3n NS ARGS...: the CLI in namespace NS
l3n() {
	local n=$1
	shift
	ip netns exec "$n" "$L3DSR_BIN" "$@"
}
# experr CASE STATUS TEXT CMD...: CMD exits STATUS with TEXT in its output.
experr() {
	local c=$1 st=$2 text=$3 out rc=0
	shift 3
	out=$("$@" 2>&1) || rc=$?
	if ((rc == st)) && [[ $out == *"$text"* ]]; then
		pass "$c"
	else
		fail "$c" "\`${*#"$L3DSR_BIN"}\`: want exit $st and '$text', got exit $rc: $out"
	fi
}

squash() { tr '\n' ' ' | sed -e 's/  */ /g' -e 's/ $//' | cut -c"1-${SQUASH_MAX:-400}"; }

missing() {
	local text=$1 w
	shift
	for w in "$@"; do grep -Eq -- "$w" <<<"$text" || printf "'%s' " "$w"; done
}

log() { echo "# $(date +%T) $*"; }

_l3dsr_exit_cmds=()
on_exit() { _l3dsr_exit_cmds+=("$*"); }

_l3dsr_run_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_l3dsr_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_l3dsr_exit_cmds[i]}"
	done
	exit "$rc"
}
trap _l3dsr_run_exit EXIT
# Without these, the SIGTERM of the scenario time limit would skip the cleanup.
trap 'exit 143' TERM
trap 'exit 130' INT

wait_for() {
	local t=$1 start=$SECONDS
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS - start <= t)) || return 1
		sleep 0.2
	done
}

_l3dsr_lib=${BASH_SOURCE[0]%/*}
[[ $_l3dsr_lib != "${BASH_SOURCE[0]}" ]] || _l3dsr_lib=.
# shellcheck source=topo.sh
source "$_l3dsr_lib/topo.sh"
# shellcheck source=dsrlab.sh
source "$_l3dsr_lib/dsrlab.sh"
