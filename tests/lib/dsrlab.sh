# shellcheck shell=bash
# The setup, teardown and client helpers of the scenarios on tests/lib/topo.sh's real servers
# (RS_NS): director and recode. Sourced by common.sh. The scenario sets WORK (its working directory),
# TOKEN, SETUP_ERR= (empty) and BG_PIDS=() before the first call.
#
#   step CMD...                run a setup command: its output is appended to $WORK/setup.log
#                              (and written alone to $STEP_LAST, if set, which a failure or a
#                              skipped step leaves empty); the first failure is remembered in
#                              SETUP_ERR, and every step after it returns 1 without running
#   teardown_all               (for on_exit) kill and reap BG_PIDS, flush the raw tables
#                              (iptables and ip6tables, legacy and nft) of every real server,
#                              then topo_down
#   rs_servers_start SCRIPT ARG...
#                              python3 SCRIPT rsI TOKEN ARG... in real server I's namespace, from
#                              $WORK, output to $WORK/server.rsI.log, its pid in BG_PIDS; waits
#                              up to 30 s for each to log "listening", else sets SETUP_ERR, 1
#   curl_many URLHOST N OUT    N HTTP requests from the client (NS_CLI) in one curl, to
#                              http://URLHOST/1 to /N, each its own connection (an HTTP/1.0
#                              server closes it) from its own client port (CLI_PORT on, which the scenario sets first); the
#                              answers to OUT, curl's errors to OUT.err
#
# The real servers are RS_NS (topo_init sets it, and NS_ALL for topo_down); a scenario with a
# network of its own sets both itself.
#
# classic_dsr.sh defines its own step: its steps may run in background jobs.

step() {
	local out
	[[ -z ${STEP_LAST:-} ]] || : >"$STEP_LAST"
	[[ -z $SETUP_ERR ]] || return 1
	if ! out=$("$@" 2>&1); then
		SETUP_ERR="\`$*\` failed: $(squash <<<"$out")"
		return 1
	fi
	printf '%s\n' "$out" >>"$WORK/setup.log"
	[[ -z ${STEP_LAST:-} ]] || printf '%s\n' "$out" >"$STEP_LAST"
}

# shellcheck disable=SC2317 # run by on_exit
teardown_all() {
	local p n
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in "${RS_NS[@]}"; do
		[[ -e /run/netns/$n ]] || continue
		nsx "$n" iptables-legacy -w -t raw -F 2>/dev/null
		nsx "$n" ip6tables-legacy -w -t raw -F 2>/dev/null
		nsx "$n" iptables-nft -t raw -F 2>/dev/null
		nsx "$n" ip6tables-nft -t raw -F 2>/dev/null
	done
	topo_down
}

rs_servers_start() {
	local script=$1 n
	shift
	for ((n = 1; n <= ${#RS_NS[@]}; n++)); do
		(cd "$WORK" && exec ip netns exec "${RS_NS[n - 1]}" python3 "$script" "rs$n" "$TOKEN" "$@") \
			>>"$WORK/server.rs$n.log" 2>&1 &
		BG_PIDS+=($!)
	done
	for ((n = 1; n <= ${#RS_NS[@]}; n++)); do
		wait_for 30 grep -q listening "$WORK/server.rs$n.log" ||
			{ SETUP_ERR="${script##*/} in ${RS_NS[n - 1]} did not start: $(squash <"$WORK/server.rs$n.log")"; return 1; }
	done
}

# Each request of curl_many has a client port no other request of the run used: IPVS keeps a
# closed connection's entry for a minute and sends a new connection from the same client port
# to the same real, bypassing the scheduler and persistence and not counting it as a new
# connection, and the kernel's port choice can come back to a port within a minute. The URLs
# come from a config file: globoff (an IPv6 literal in brackets) turns curl's URL ranges off.
curl_many() {
	local i
	for ((i = 1; i <= $2; i++)); do
		((i == 1)) || echo next
		printf 'url = "http://%s/%d"\nlocal-port = %d\ngloboff\nmax-time = 20\n' "$1" "$i" "$((CLI_PORT++))"
	done >"$3.urls"
	timeout 240 ip netns exec "$NS_CLI" curl -sS -K "$3.urls" >"$3" 2>"$3.err"
}
