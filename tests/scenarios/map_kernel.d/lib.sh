# shellcheck shell=bash
# What map_kernel and map_direct share: l3dsr-nltest's wrappers, the client/real-server
# topology, and a UDP send-and-receive through it. The caller sets NLT, C, R, O, WORK and PORT.

# NLT_TIMEOUT: make test-debug's kernel is many times slower.
nlt() { timeout "${NLT_TIMEOUT:-120}" "$NLT" "$@"; }
# -n: the tool enters the namespace itself (setns), far cheaper than `ip netns exec` under TCG.
nltn() {
	local n=$1
	shift
	timeout "${NLT_TIMEOUT:-120}" "$NLT" -n "$n" "$@"
}

# expect_err CASE ERRNAME TEXT CMD...: CMD fails, naming ERRNAME and containing TEXT.
expect_err() {
	local c=$1 e=$2 text=$3 out
	shift 3
	if out=$("$@" 2>&1); then
		fail "$c" "\`${*:2}\` succeeded; want $e '$text'"
		return
	fi
	if [[ $out == *"error: $e "* && $out == *"$text"* ]]; then
		pass "$c"
	else
		fail "$c" "\`${*:2}\`: want $e with '$text', got: $out"
	fi
}

# field NAME LINE: the value of NAME=... in LINE
field() {
	local re="(^|[[:space:]])$1=([^[:space:]]*)"
	if [[ $2 =~ $re ]]; then printf '%s' "${BASH_REMATCH[2]}"; fi
}

# sendrecv FAM DST TOS COUNT [RECV-WORD]...: send COUNT datagrams from the client to DST with
# TOS, receive them in the real server on a wildcard socket; prints the receiver's line
# (received=... dst=..., and tos=... with the word tos=1).
sendrecv() {
	local fam=$1 dst=$2 tos=$3 count=$4 ready=$WORK/ready.$RANDOM rpid out
	timeout 60 "$NLT" -n $R recv fam="$fam" port=$PORT ready="$ready" timeout=30 "${@:5}" >"$WORK/recv.out" 2>&1 &
	rpid=$!
	wait_for 20 test -e "$ready"
	nltn $C send dst="$dst" port=$PORT tos="$tos" count="$count" gap_us=2000 >/dev/null 2>&1
	wait "$rpid"
	cat "$WORK/recv.out"
}

# The real server's RIPs on r0 and its VIPs on lo; O is an empty second namespace.
topo() {
	ns_pair $C $R 192.0.2.1/24 2001:db8:1::1/64 && ip netns add $O || return 1
	ip -n $R -batch - <<-EOF || return 1
		addr add 192.0.2.2/24 dev r0
		addr add 192.0.2.3/24 dev r0
		addr add 2001:db8:1::2/64 dev r0 nodad
		addr add 2001:db8:1::3/64 dev r0 nodad
		addr add 10.80.0.1/32 dev lo
		addr add 10.80.0.2/32 dev lo
		addr add 10.80.0.3/32 dev lo
		addr add 2001:db8:80::1/128 dev lo
		addr add 2001:db8:80::2/128 dev lo
	EOF
	ip -n $O link set lo up
}

# A staged replace lives only as long as the socket that began it. nls_start NETNS keeps one
# l3dsr-nltest (its `shell`) running in a coproc; nls CMD... runs one command on that socket and
# returns its exit status; nls_stop closes it (which frees a replace it left staged).
nls_start() {
	coproc NLS { exec "$NLT" -n "$1" shell; }
}
nls() {
	local line rc=
	printf '%s\n' "$*" >&"${NLS[1]}"
	while IFS= read -r -t 120 line <&"${NLS[0]}"; do
		if [[ $line == @@rc=* ]]; then
			rc=${line#@@rc=}
			break
		fi
		printf '%s\n' "$line"
	done
	[[ -n $rc ]] || { echo "nls: the l3dsr-nltest shell ended or hung before answering '$*'"; return 1; }
	return "$rc"
}
nls_stop() {
	local pid=$NLS_PID
	eval "exec ${NLS[1]}>&-"
	wait "$pid" 2>/dev/null
}
