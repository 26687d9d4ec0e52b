# shellcheck shell=bash
# classic_dsr: classic L3 DSR end to end, with a real IPVS director, real routing and real TCP/UDP
# clients and servers, for IPv4 and IPv6, once with iptables-legacy and once with iptables-nft,
# once in map mode: the real server's rules come from `l3dsr rule add` (one `-j DADDR --map`
# rule per family, the VIPs in the module's table) instead of one rule per VIP, and once on map
# mode's direct path (issue 18: the same table, then `l3dsr rule mode direct`: the module's own
# hook, no DADDR rule at all). CD_VARIANTS=bpf
# or auto runs it with the BPF backend (issue 17): `l3dsr realserver up --backend bpf|auto`
# attaches the tc ingress program and fills its table; no DADDR rule and no module is involved
# (tests/lockdown runs auto on a kernel that refuses the module).
#
#   client ── router ─┬─ director  VIP on lo, IPVS NAT + DSCP mark in mangle
#                     └─ realserver (RIP), VIP on lo, DADDR in raw PREROUTING
#   (tests/lib/topo.sh: one real server, IPv4 and IPv6)
#
#   request: client → router → director (IPVS: dst VIP→RIP, mangle: DSCP n) → router → realserver
#            (raw PREROUTING: DSCP n → dst RIP→VIP, then conntrack sees client↔VIP)
#   reply:   realserver (src VIP) → router → client, never through the director
#
# Cases, for FAM in ipv4/ipv6 and VARIANT in legacy/nft/map/direct, and bpf or auto with
# CD_VARIANTS (map, direct, bpf, auto: iptables-nft elsewhere):
#   FAM-tcp-VARIANT           curl http://VIP/ from the client returns the page: the run's token,
#                             served by the socket on the VIP, for the client's own address
#   FAM-udp-VARIANT           a datagram to VIP:7 gets its answer on a connected socket (so from VIP:7)
#   FAM-dscp-VARIANT          the real server's link carries requests addressed to the RIP with
#                             DSCP n, no request for the RIP without it, and nothing for the VIP
#   FAM-direct-reply-VARIANT  the router sees TCP and UDP replies from the VIP to the client on the
#                             real server's link, and nothing toward the client on the director's
#   FAM-ipvs-oneway-VARIANT   IPVS scheduled the TCP and UDP flows (InPkts > 0) and saw no reply
#                             (OutPkts = 0)
#   FAM-conntrack-VARIANT     conntrack on the real server holds an open connection as
#                             client↔VIP ESTABLISHED, nothing with the RIP, and counted 0 INVALID
#                             packets (in and out) while its ESTABLISHED counter moved
#   FAM-daddr-counter-VARIANT the DADDR rule's packet counter is > 0; in map mode also the
#                             table entry's packet counter (`l3dsr rule list`), and raw PREROUTING
#                             holds exactly one DADDR rule however often `rule add` ran; with bpf
#                             raw PREROUTING holds no DADDR rule and the BPF table's entry
#                             counts packets (the lockdown scenario proves no module is needed)
#
# L3DSR_DEMO=1 (`make demo`): only IPv4 with iptables-nft (Debian's default), narrated for a
# human. Otherwise quiet except for failures. Sourced after tests/lib/common.sh.
#
# Under TCG every process start costs a second or more, so independent steps run in parallel
# (par), commands are batched (ip -batch, iptables-restore, ipvsadm -R) and each capture is read
# once per question for both families.

# SC2317: functions run through par (eval); SC2016: client scripts in single quotes on purpose.
# shellcheck disable=SC2317,SC2016
set -u

topo_init l3c- 46 1
VIP4=10.80.0.1
VIP6=2001:db8:80::1
# One DSCP code per (VIP, real-server address). Not 0 (default), 1 (Lower Effort, RFC 8622),
# nor the CS/AF/EF codes that networks use for QoS.
DSCP4=21 # tos 0x54
DSCP6=22 # traffic class 0x58
TCP_PORT=80
UDP_PORT=7 # "echo": a plain responder; tcpdump does not try to decode it as DNS

TOKEN=l3dsr-$(tr -dc a-z0-9 </proc/sys/kernel/random/uuid | head -c 16)
WORK=$PWD
DEMO=${L3DSR_DEMO:-0}

demo() { if [[ $DEMO == 1 ]]; then printf '%s\n' "$@"; fi; }

# ---------------------------------------------------------------------------------------------
# Setup steps. The first failure fails every case of the variant, with its message. Steps may
# run in background jobs (par), so failures also go to a file the parent reads.
SETUP_ERR=
setup_error() {
	[[ -n $SETUP_ERR ]] || SETUP_ERR=$1
	printf '%s\n' "$1" >>"$WORK/setup.err"
}
step() { step_to /dev/null "$@"; }
# step_to FILE CMD...: step, and the command's output appended to FILE.
step_to() {
	local f=$1 out
	shift
	if ! out=$("$@" 2>&1); then
		setup_error "\`$*\` failed: $(squash <<<"$out")"
		return 1
	fi
	printf '%s\n' "$out" >>"$f"
}
# ip -batch in namespace NS ("" for the VM's own), commands on stdin.
ipb() {
	local out
	if ! out=$(timeout 20 ip ${1:+-n "$1"} -batch - 2>&1); then
		setup_error "ip ${1:+-n $1 }-batch failed: $(squash <<<"$out")"
		return 1
	fi
}
# iptables-restore --noflush of the variant in namespace NS, rules on stdin. -w: legacy
# iptables takes one lock for all namespaces, and the director and the real server are set up
# at the same time.
ipt_restore() { # NS IPT
	local in out
	in=$(cat)
	if ! out=$(timeout 20 ip netns exec "$1" "$2-restore" -w --noflush <<<"$in" 2>&1); then
		setup_error "$2-restore --noflush in $1 failed: $(squash <<<"$out") (rules: $(squash <<<"$in"))"
		return 1
	fi
}
ipvs_restore() {
	local in out
	in=$(cat)
	if ! out=$(timeout 20 ip netns exec "$NS_DIR" ipvsadm -R <<<"$in" 2>&1); then
		setup_error "ipvsadm -R in $NS_DIR failed: $(squash <<<"$out") (input: $(squash <<<"$in"))"
		return 1
	fi
}
# par CMD...: runs each CMD (a string) as a background job, waits for all; 1 if any failed.
par() {
	local c p pids=() rc=0
	for c in "$@"; do
		eval "$c" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	[[ -n $SETUP_ERR || ! -s $WORK/setup.err ]] || SETUP_ERR=$(head -n 1 "$WORK/setup.err")
	if ((rc)) && [[ -z $SETUP_ERR ]]; then SETUP_ERR="a setup step failed: $*"; fi
	[[ -z $SETUP_ERR ]]
}

BG_PIDS=()
# Kills what this scenario started (by pid), flushes the DADDR rules (so the module is not kept
# busy until the kernel gets round to freeing the namespace) and IPVS, and deletes the
# namespaces, which takes every other rule, address and route with them. Runs between variants
# and on exit.
teardown() {
	local p pids=()
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	BG_PIDS=() CAP_PIDS=()
	if [[ -e /run/netns/$NS_RS && -n ${IPT:-} ]]; then
		nsx "$NS_RS" "$IPT" -w -t raw -F 2>/dev/null &
		pids+=($!)
		nsx "$NS_RS" "$IP6T" -w -t raw -F 2>/dev/null &
		pids+=($!)
	fi
	if [[ -e /run/netns/$NS_DIR ]]; then
		nsx "$NS_DIR" ipvsadm -C 2>/dev/null &
		pids+=($!)
	fi
	for p in "${pids[@]}"; do wait "$p"; done
	topo_down
}
on_exit teardown

# ---------------------------------------------------------------------------------------------
# The director's and the real server's own settings on top of tests/lib/topo.sh's network.
# For rp_filter, arp_ignore and arp_announce the kernel uses the larger of "all" and the
# interface's value, so both are set.
hosts_up() {
	local out
	if ! out=$(topo_up 2>&1); then
		setup_error "topology: $(squash <<<"$out")"
		return 1
	fi
	par director_up realserver_up
}

director_up() {
	# ip_forward as an IPVS NAT director is set up (IPVS itself sends through LOCAL_OUT, so no
	# ICMP redirect goes out although packets leave by the interface they came in on). Strict
	# reverse-path filter: the director has one leg and the client's address is routed back
	# through it, so strict mode drops nothing.
	step nsx "$NS_DIR" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 || return 1
	# The VIP is a local address of the director: IPVS takes packets in LOCAL_IN.
	vips_on_lo "$NS_DIR"
}

realserver_up() {
	# A host (no forwarding). The VIP lives on lo; the server must never answer ARP for it on
	# eth0 (arp_ignore=1: answer only for addresses of the receiving interface) nor use it as an
	# ARP source (arp_announce=2). Strict reverse-path filter works: DADDR runs before routing,
	# the rewritten packet (client → VIP) arrives on eth0, and the client is routed back out of
	# eth0. (IPv6 has no rp_filter sysctl.)
	step nsx "$NS_RS" sysctl -q -w net.ipv4.ip_forward=0 \
		net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth0.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 || return 1
	# The default route (topo.sh) is the router: replies go client-ward directly.
	vips_on_lo "$NS_RS"
}

vips_on_lo() {
	ipb "$1" <<-EOF
		addr add $VIP4/32 dev lo
		addr add $VIP6/128 dev lo
	EOF
}

# ---------------------------------------------------------------------------------------------
# Director: IPVS NAT plus the DSCP mark.
director_lb() {
	# ipvsadm -R reads the same options as the command line, one service or server a line.
	ipvs_restore <<-EOF || return 1
		-A -t $VIP4:$TCP_PORT -s wlc -p 300
		-a -t $VIP4:$TCP_PORT -r $RIP4:$TCP_PORT -m
		-A -u $VIP4:$UDP_PORT -s wlc -p 300
		-a -u $VIP4:$UDP_PORT -r $RIP4:$UDP_PORT -m
		-A -t [$VIP6]:$TCP_PORT -s wlc -p 300
		-a -t [$VIP6]:$TCP_PORT -r [$RIP6]:$TCP_PORT -m
		-A -u [$VIP6]:$UDP_PORT -s wlc -p 300
		-a -u [$VIP6]:$UDP_PORT -r [$RIP6]:$UDP_PORT -m
	EOF
	# IPVS sysctls (they live under net.ipv4.vs but cover IPv6 services too; they exist once
	# ipvsadm has loaded ip_vs):
	#  conntrack=0 (the default; set because DSR depends on it): IPVS detaches netfilter
	#    conntrack from the packets it forwards. With 1, netfilter conntrack on the director
	#    sees the client's SYN but never the SYN-ACK, calls every later ACK and data segment
	#    INVALID, and the director drops them: measured on 6.1, only SYN and FIN reach the real
	#    server, the handshake completes there but the request never arrives, curl times out.
	#    (UDP still works, unreplied.)
	#  expire_nodest_conn: matters only when a real server is removed (1 then drops the flow's
	#    IPVS entry at its next packet, so the client's retry is rescheduled). No server is
	#    removed here, so the default (0) stays; production directors usually want 1.
	#  sloppy_tcp=0 (default): IPVS creates a flow's entry from its SYN only. The director
	#    sees the client's SYN, so DSR needs nothing more (1 helps after a director fail-over).
	#  IPVS's own TCP state machine copes with one direction: for NAT it steps from SYN_RECV to
	#    ESTABLISHED on the client's ACK and to CLOSE_WAIT on its FIN, so entries expire by the
	#    usual timeouts. ipvs-oneway checks that IPVS counted no reply packet at all.
	# Netfilter conntrack on the director, if a firewall rule makes it active there, sees each
	# client packet as a new flow that is never confirmed (IPVS takes the packet before that),
	# so it holds no entries; but a client's FIN or RST is INVALID to it (no flow to close).
	# Measured: with conntrack=0, INPUT counts every client FIN as ctstate INVALID. A director
	# firewall must not drop INVALID for VIP traffic (or should exempt it in raw with NOTRACK),
	# or connection teardown breaks. This scenario keeps the director's filter table empty.
	step nsx "$NS_DIR" sysctl -q -w net.ipv4.vs.conntrack=0 || return 1
	# mangle PREROUTING runs before IPVS (LOCAL_IN); IPVS NAT rewrites only the destination and
	# keeps the TOS/traffic class, so the mark rides along to the real server.
	ipt_restore "$NS_DIR" "$IPT" <<-EOF || return 1
		*mangle
		-A PREROUTING -d $VIP4 -p tcp --dport $TCP_PORT -j DSCP --set-dscp $DSCP4
		-A PREROUTING -d $VIP4 -p udp --dport $UDP_PORT -j DSCP --set-dscp $DSCP4
		COMMIT
	EOF
	ipt_restore "$NS_DIR" "$IP6T" <<-EOF
		*mangle
		-A PREROUTING -d $VIP6 -p tcp --dport $TCP_PORT -j DSCP --set-dscp $DSCP6
		-A PREROUTING -d $VIP6 -p udp --dport $UDP_PORT -j DSCP --set-dscp $DSCP6
		COMMIT
	EOF
}

# ---------------------------------------------------------------------------------------------
# Real server: DADDR rules and conntrack counters; then the HTTP and UDP servers.
realserver_rules() {
	if [[ $MODE == bpf || $MODE == auto ]]; then
		# The VIPs are on lo already (realserver_up); up adopts them, attaches the program to
		# eth0 and puts the entries in the BPF table. auto (the lockdown boot) must choose BPF
		# because xt_DADDR cannot load, and say so: its output is checked in check_family.
		: >"$WORK/up.out"
		step_to "$WORK/up.out" nsx "$NS_RS" "$L3DSR_BIN" realserver up --backend "$MODE" \
			--vip "$VIP4" --dscp "$DSCP4" || return 1
		step_to "$WORK/up.out" nsx "$NS_RS" "$L3DSR_BIN" realserver up --backend "$MODE" \
			--vip "$VIP6" --dscp "$DSCP6" || return 1
	elif [[ $MODE == map || $MODE == direct ]]; then
		# What an administrator types in map mode; the second add of each family proves that
		# `rule add` never appends a second map rule.
		step nsx "$NS_RS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule add --dscp "$DSCP4" --vip "$VIP4" ||
			return 1
		step nsx "$NS_RS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule add --dscp "$DSCP6" --vip "$VIP6" ||
			return 1
		step nsx "$NS_RS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule add --dscp 0x3e --vip 10.80.0.99 ||
			return 1
		step nsx "$NS_RS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule add --dscp 62 --vip 2001:db8:80::99 ||
			return 1
		if [[ $MODE == direct ]]; then
			step nsx "$NS_RS" env L3DSR_IPTABLES=nft "$L3DSR_BIN" rule mode direct || return 1
		fi
	else
		# The DADDR rules exactly as an administrator types them.
		step nsx "$NS_RS" "$IPT" -w -t raw -A PREROUTING -m dscp --dscp "$DSCP4" -j DADDR --set-daddr "$VIP4" ||
			return 1
		step nsx "$NS_RS" "$IP6T" -w -t raw -A PREROUTING -m dscp --dscp "$DSCP6" -j DADDR --set-daddr "$VIP6" ||
			return 1
	fi
	# Rules with a conntrack match make conntrack active in this namespace; without a target
	# they only count. INVALID in INPUT would be a request conntrack could not place; INVALID
	# in OUTPUT a reply matching no recorded flow (what happens when the destination is
	# rewritten after conntrack, e.g. DADDR in mangle INPUT: conntrack recorded client→RIP).
	local ipt
	for ipt in "$IPT" "$IP6T"; do
		ipt_restore "$NS_RS" "$ipt" <<-EOF || return 1
			*filter
			-A INPUT -m conntrack --ctstate INVALID -m comment --comment l3dsr-invalid-in
			-A OUTPUT -m conntrack --ctstate INVALID -m comment --comment l3dsr-invalid-out
			-A INPUT -m conntrack --ctstate ESTABLISHED -m comment --comment l3dsr-established
			COMMIT
		EOF
	done
}

write_servers() {
	# One HTTP/1.0 exchange per connection (socat forks; the page names the socket's local
	# address and the peer it saw, so the client can tell the VIP answered it without SNAT).
	# socat writes IPv6 addresses in full (2001:0db8:...), see full6.
	cat >"$WORK/http.sh" <<-'EOF'
		#!/bin/bash
		while IFS= read -r -t 30 line && [[ -n ${line%$'\r'} ]]; do :; done
		a=${SOCAT_SOCKADDR#[} a=${a%]} p=${SOCAT_PEERADDR#[} p=${p%]}
		body="l3dsr-classic token=$L3DSR_TOKEN server=$a client=$p"
		printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
			"$((${#body} + 1))" "$body"
	EOF
	cat >"$WORK/udp.sh" <<-'EOF'
		#!/bin/bash
		IFS= read -r -t 10 line
		p=${SOCAT_PEERADDR#[} p=${p%]}
		printf 'l3dsr-classic-udp token=%s client=%s got=%s\n' "$L3DSR_TOKEN" "$p" "$line"
	EOF
	chmod +x "$WORK/http.sh" "$WORK/udp.sh"
}

servers_start() {
	# Bound to the VIP, not to the wildcard: an unconnected UDP socket on the wildcard would
	# answer from the address the route picks (the RIP), not from the VIP the client asked.
	# -t 10: once the datagram is read (EOF on the UDP side), socat waits up to 10s for the
	# handler's answer; the default 0.5s loses answers when the VM is slow to start bash.
	local l
	: >"$WORK/servers.err"
	for l in "TCP4-LISTEN:$TCP_PORT,bind=$VIP4,reuseaddr,fork EXEC:$WORK/http.sh" \
		"TCP6-LISTEN:$TCP_PORT,bind=[$VIP6],reuseaddr,fork EXEC:$WORK/http.sh" \
		"UDP4-RECVFROM:$UDP_PORT,bind=$VIP4,fork EXEC:$WORK/udp.sh" \
		"UDP6-RECVFROM:$UDP_PORT,bind=[$VIP6],fork EXEC:$WORK/udp.sh"; do
		# shellcheck disable=SC2086
		L3DSR_TOKEN=$TOKEN ip netns exec "$NS_RS" socat -T 30 -t 10 $l 2>>"$WORK/servers.err" &
		BG_PIDS+=($!)
	done
}
servers_listening() {
	local out a
	out=$(nsx "$NS_RS" ss -Hlntu)
	for a in "$VIP4:$TCP_PORT" "[$VIP6]:$TCP_PORT" "$VIP4:$UDP_PORT" "[$VIP6]:$UDP_PORT"; do
		[[ $out == *" $a "* ]] || return 1
	done
}
servers_ready() {
	wait_for 30 servers_listening && return 0
	setup_error "the servers on the VIP are not all listening after 30s: $(nsx "$NS_RS" ss -Hlntu | squash) $(squash <"$WORK/servers.err")"
	return 1
}

# ---------------------------------------------------------------------------------------------
# Captures: one pcap per interface for the whole variant, analysed with filters afterwards.
CAPS=("rs:$NS_RS:eth0" "rtr-rs:$NS_RTR:$RTR_IF_RS" "rtr-dir:$NS_RTR:r-dir")
CAP_PIDS=()
caps_start() {
	local c name n ifc
	for c in "${CAPS[@]}"; do
		IFS=: read -r name n ifc <<<"$c"
		rm -f "$WORK/$name.pcap" "$WORK/$name.err"
		timeout 300 ip netns exec "$n" tcpdump -i "$ifc" -n -s 200 -U --immediate-mode \
			-w "$WORK/$name.pcap" 2>"$WORK/$name.err" &
		BG_PIDS+=($!)
		CAP_PIDS+=($!)
	done
}
# tcpdump takes a moment to start: traffic before "listening on" would be missed.
caps_ready() {
	local c name n ifc
	for c in "${CAPS[@]}"; do
		IFS=: read -r name n ifc <<<"$c"
		if ! wait_for 30 grep -q 'listening on' "$WORK/$name.err"; then
			setup_error "tcpdump on $n/$ifc did not start within 30s: $(squash <"$WORK/$name.err")"
			return 1
		fi
	done
}
caps_stop() {
	local p
	sleep 0.3 # let the last packets reach the captures
	# -U writes every packet as it comes; SIGINT makes tcpdump flush and close the file.
	for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
	for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	CAP_PIDS=()
}

# pcap_job CAPTURE FILTER [RE]: one read of a capture for both families. tcpdump -n starts a
# line with the time, "IP" or "IP6", then "SRC.PORT > DST.PORT:". Prints, tab-separated, the
# numbers of matching IPv4 and IPv6 packets (only those whose line matches the awk regex RE, if
# given) and the first two lines of each; or "?" and tcpdump's complaint.
pcap_job() {
	local out err='' l ef=$WORK/$1.$BASHPID.err
	out=$(timeout 60 tcpdump -n -r "$WORK/$1.pcap" "$2" 2>"$ef")
	while IFS= read -r l; do
		[[ $l == "reading from file"* ]] || err+="$l "
	done <"$ef"
	rm -f "$ef"
	if [[ -n $err ]]; then
		printf '?\t?\ttcpdump: %s\ttcpdump: %s\n' "$err" "$err"
		return
	fi
	awk -v re="${3:-.}" '
		($2 == "IP" || $2 == "IP6") && $0 ~ re {
			f = $2 == "IP" ? 4 : 6
			if (++n[f] <= 2) l[f] = l[f] " " $0
		}
		# A space before each tab: read with IFS=tab would merge empty fields.
		END { printf "%d \t%d \t%s \t%s \n", n[4], n[6], substr(l[4], 1, 300), substr(l[6], 1, 300) }' <<<"$out"
}

# Reads everything the checks need at once, in parallel: PC[KEY4], PC[KEY6] are packet counts
# and PL[KEY4], PL[KEY6] example lines; LS[...] are rule and IPVS listings.
declare -A PC PL LS
collect() {
	local d4="(ip[1] & 0xfc) >> 2" d6="(ip6[0:2] & 0x0fc0) >> 6"
	local req="(tcp dst port $TCP_PORT or udp dst port $UDP_PORT)"
	local replies="(ip and src host $VIP4 and dst host $CLI4) or (ip6 and src host $VIP6 and dst host $CLI6)"
	local k p pids=()
	# Real server's link, before DADDR: requests for the RIP carrying the VIP's DSCP code ...
	pcap_job rs "(ip and dst host $RIP4 and $d4 == $DSCP4) or (ip6 and dst host $RIP6 and $d6 == $DSCP6)" \
		>"$WORK/pc.rs-marked" &
	pids+=($!)
	# ... and what must not be there: a request for the RIP without it, anything for the VIP.
	pcap_job rs "(ip and ((dst host $RIP4 and $req and $d4 != $DSCP4) or dst host $VIP4)) or (ip6 and ((dst host $RIP6 and $req and $d6 != $DSCP6) or dst host $VIP6))" \
		>"$WORK/pc.rs-wrong" &
	pids+=($!)
	# Router, real server's link: the replies from the VIP to the client, TCP and UDP.
	pcap_job rtr-rs "$replies" "[.]$TCP_PORT > .*Flags" >"$WORK/pc.rtr-tcp" &
	pids+=($!)
	pcap_job rtr-rs "$replies" "[.]$UDP_PORT > .*UDP" >"$WORK/pc.rtr-udp" &
	pids+=($!)
	# Router, director's link: nothing toward the client, nothing from the VIP.
	pcap_job rtr-dir "(ip and (dst host $CLI4 or src host $VIP4)) or (ip6 and (dst host $CLI6 or src host $VIP6))" \
		>"$WORK/pc.rtr-dir" &
	pids+=($!)
	nsx "$NS_DIR" ipvsadm -L -n --stats --exact >"$WORK/ls.ipvs" 2>&1 &
	pids+=($!)
	nsx "$NS_RS" "$IPT" -w -t filter -L -n -v -x >"$WORK/ls.filter4" 2>&1 &
	pids+=($!)
	nsx "$NS_RS" "$IP6T" -w -t filter -L -n -v -x >"$WORK/ls.filter6" 2>&1 &
	pids+=($!)
	nsx "$NS_RS" "$IPT" -w -t raw -L PREROUTING -n -v -x >"$WORK/ls.raw4" 2>&1 &
	pids+=($!)
	nsx "$NS_RS" "$IP6T" -w -t raw -L PREROUTING -n -v -x >"$WORK/ls.raw6" 2>&1 &
	pids+=($!)
	if [[ $MODE == map || $MODE == direct || $MODE == bpf || $MODE == auto ]]; then
		nsx "$NS_RS" "$L3DSR_BIN" rule list >"$WORK/ls.map" 2>&1 &
		pids+=($!)
	else
		: >"$WORK/ls.map"
	fi
	# Only these: a bare wait would also wait for the servers.
	for p in "${pids[@]}"; do wait "$p"; done
	PC=() PL=() LS=()
	for k in rs-marked rs-wrong rtr-tcp rtr-udp rtr-dir; do
		IFS=$'\t' read -r "PC[${k}4]" "PC[${k}6]" "PL[${k}4]" "PL[${k}6]" <"$WORK/pc.$k"
		PC[${k}4]=${PC[${k}4]% } PC[${k}6]=${PC[${k}6]% } PL[${k}4]=${PL[${k}4]% } PL[${k}6]=${PL[${k}6]% }
	done
	for k in ipvs filter4 filter6 raw4 raw6 map; do LS[$k]=$(<"$WORK/ls.$k"); done
}

rule_pkts() { # LISTING PATTERN: packet counter of the first rule whose line matches PATTERN
	awk -v p="$2" '$0 ~ p { print $1; exit }' <<<"$1"
}
ipvs_stats() { # LISTING PROTO(TCP|UDP) ADDR:PORT → "conns inpkts outpkts"
	awk -v p="$2" -v a="$3" '$1 == p && $2 == a { print $3, $4, $5; exit }' <<<"$1"
}
# Why a reply may be missing, from the real server's own counters.
rs_stack_counters() {
	nsx "$NS_RS" nstat -asz 2>/dev/null |
		awk -v re="$1" '$1 ~ re { printf "%s%s=%s", sep, $1, $2; sep = " " }'
}

# ---------------------------------------------------------------------------------------------
# Traffic and assertions, per family.

# An IPv6 address in socat's spelling: eight groups of four hex digits.
full6() {
	local h t g n out=()
	local -a H T
	if [[ $1 == *::* ]]; then h=${1%%::*} t=${1#*::}; else h=$1 t=; fi
	IFS=: read -r -a H <<<"$h"
	IFS=: read -r -a T <<<"$t"
	for g in "${H[@]}"; do printf -v g %04x "0x$g"; out+=("$g"); done
	for ((n = 8 - ${#H[@]} - ${#T[@]}; n > 0; n--)); do out+=(0000); done
	for g in "${T[@]}"; do printf -v g %04x "0x$g"; out+=("$g"); done
	local IFS=:
	echo "${out[*]}"
}
fam_vars() {
	if [[ $1 == 4 ]]; then
		FAM=ipv4 CLI=$CLI4 VIP=$VIP4 RIP=$RIP4 DSCP=$DSCP4 URLHOST=$VIP4
		SOCAT_VIP=$VIP4 SOCAT_CLI=$CLI4
	else
		FAM=ipv6 CLI=$CLI6 VIP=$VIP6 RIP=$RIP6 DSCP=$DSCP6 URLHOST="[$VIP6]"
		SOCAT_VIP=$(full6 "$VIP6") SOCAT_CLI=$(full6 "$CLI6")
	fi
}

# The client's traffic for one family, while the captures run. Runs as a background job (both
# families at once), so the results go to files $WORK/FAM.*, judged by check_family.
traffic_family() {
	local v=$1 msg out
	fam_vars "$v"
	out=$WORK/$FAM
	demo "" "\$ curl http://$URLHOST/        (on the client, $CLI)"
	nsx "$NS_CLI" curl -sS -g --max-time 15 "http://$URLHOST/" >"$out.curl" 2>&1
	demo "$(<"$out.curl")" \
		"  ↑ the page, from the socket bound to the VIP on the real server; it saw the client's own address."

	msg="ping-$FAM-$RANDOM"
	# A connected UDP socket (bash's /dev/udp) accepts only datagrams from VIP:port, so any
	# answer at all is an answer from the VIP.
	nsx "$NS_CLI" bash -c 'exec 3<>"/dev/udp/$1/$2" || exit 1
		printf "%s\n" "$3" >&3; timeout 10 head -n 1 <&3' _ "$VIP" "$UDP_PORT" "$msg" >"$out.udp" 2>&1
	echo " (sent $msg)" >>"$out.udp"
	demo "" "\$ echo $msg | a connected UDP socket to $VIP port $UDP_PORT        (on the client)" \
		"$(head -n 1 "$out.udp")" \
		"  ↑ the answer from the responder bound to the VIP; a connected socket takes nothing from another address."

	# A connection held open while conntrack on the real server is read: the client connects,
	# waits for FAM.go, then sends its request and reads the page. CLASSIC_HOLD_SECONDS (12)
	# bounds the wait for the entry; the debug kernel needs longer (make test-debug).
	local hold_s=${CLASSIC_HOLD_SECONDS:-12}
	rm -f "$out.go"
	NSX_TIMEOUT=$((${NSX_TIMEOUT:-30} + hold_s)) nsx "$NS_CLI" bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
		for ((i = 0; i < $4 * 10; i++)); do [[ -e $3 ]] && break; sleep 0.1; done
		printf "GET /hold HTTP/1.0\r\n\r\n" >&3; cat <&3' _ "$VIP" "$TCP_PORT" "$out.go" $((hold_s + 3)) \
		>"$out.hold" 2>&1 &
	local hold=$! start=$SECONDS ct=
	while ((SECONDS - start < hold_s)); do
		ct=$(nsx "$NS_RS" conntrack -L -f "$FAM" -p tcp --dport "$TCP_PORT" 2>/dev/null)
		[[ $ct != *"ESTABLISHED src=$CLI dst=$VIP "* ]] || break
		sleep 0.2
	done
	printf '%s\n' "$ct" >"$out.ct"
	: >"$out.go"
	wait "$hold"
}

check_family() {
	local v=$1 var=$2 want n m k out curl udp ct hold
	fam_vars "$v"
	out=$WORK/$FAM
	curl=$(<"$out.curl") udp=$(<"$out.udp") ct=$(<"$out.ct") hold=$(<"$out.hold")
	want="token=$TOKEN server=$SOCAT_VIP client=$SOCAT_CLI"

	if [[ $curl == *"$want"* ]]; then
		pass "$FAM-tcp-$var"
	else
		fail "$FAM-tcp-$var" "curl http://$URLHOST/ from the client: want a page with '$want', got '$(squash <<<"$curl")'; realserver: $(rs_stack_counters '^(Ip6?(InReceives|InDelivers|InAddrErrors|InDiscards)|Tcp(InSegs|OutSegs|InErrs|InCsumErrors|ExtListenDrops))$')"
	fi

	if [[ $udp == *"l3dsr-classic-udp token=$TOKEN client=$SOCAT_CLI got=ping-"* ]]; then
		pass "$FAM-udp-$var"
	else
		fail "$FAM-udp-$var" "datagram to $VIP port $UDP_PORT on a connected socket: want an answer with 'token=$TOKEN client=$SOCAT_CLI', got '$(squash <<<"$udp")'; realserver: $(rs_stack_counters '^(Ip6?(InReceives|InDelivers|InAddrErrors|InDiscards)|Udp6?(InDatagrams|NoPorts|InErrors|InCsumErrors|OutDatagrams|RcvbufErrors))$')"
	fi

	# On the real server's link, before DADDR.
	n=${PC[rs-marked$v]} m=${PC[rs-wrong$v]}
	if ((n > 0 && m == 0)) 2>/dev/null; then
		pass "$FAM-dscp-$var"
	else
		fail "$FAM-dscp-$var" "real server's eth0: want >0 packets to $RIP with DSCP $DSCP and 0 requests to $RIP without it or to $VIP; got $n and $m (${PL[rs-wrong$v]}${PL[rs-marked$v]})"
	fi

	# On the router.
	n=${PC[rtr-tcp$v]} m=${PC[rtr-udp$v]} k=${PC[rtr-dir$v]}
	if ((n > 0 && m > 0 && k == 0)) 2>/dev/null; then
		pass "$FAM-direct-reply-$var"
	else
		fail "$FAM-direct-reply-$var" "router: want >0 TCP and >0 UDP replies $VIP→$CLI on $RTR_IF_RS and 0 packets toward the client or from the VIP on r-dir; got $n, $m, $k (${PL[rtr-dir$v]}${PL[rtr-tcp$v]})"
	fi

	local t u vipport=$VIP
	[[ $v == 4 ]] || vipport="[$VIP]"
	t=$(ipvs_stats "${LS[ipvs]}" TCP "$vipport:$TCP_PORT")
	u=$(ipvs_stats "${LS[ipvs]}" UDP "$vipport:$UDP_PORT")
	# shellcheck disable=SC2086
	if set -- $t $u && (($# == 6)) && (($1 > 0 && $2 > 0 && $3 == 0 && $4 > 0 && $5 > 0 && $6 == 0)); then
		pass "$FAM-ipvs-oneway-$var"
	else
		fail "$FAM-ipvs-oneway-$var" "ipvsadm --stats (conns inpkts outpkts): want TCP and UDP with conns>0 inpkts>0 outpkts=0; got TCP '$t', UDP '$u' ($(squash <<<"${LS[ipvs]}"))"
	fi

	# conntrack on the real server
	local filter=${LS[filter$v]} raw=${LS[raw$v]} inv_in inv_out est bad=
	inv_in=$(rule_pkts "$filter" l3dsr-invalid-in)
	inv_out=$(rule_pkts "$filter" l3dsr-invalid-out)
	est=$(rule_pkts "$filter" l3dsr-established)
	if ! grep -q "ESTABLISHED src=$CLI dst=$VIP sport=[0-9]* dport=$TCP_PORT src=$VIP dst=$CLI sport=$TCP_PORT " <<<"$ct"; then
		bad+="no ESTABLISHED client↔VIP entry in conntrack -L while a connection was open (saw: $(squash <<<"$ct")); "
	fi
	[[ $ct != *"=$RIP "* ]] || bad+="conntrack has a flow with the RIP $RIP; "
	[[ $hold == *"$want"* ]] || bad+="the held connection got no page ($(squash <<<"$hold")); "
	[[ $inv_in == 0 && $inv_out == 0 ]] || bad+="INVALID counters in/out: want 0/0, got '$inv_in'/'$inv_out'; "
	[[ $est =~ ^[0-9]+$ ]] && ((est > 0)) || bad+="ESTABLISHED counter: want >0 (conntrack active), got '$est'; "
	if [[ -z $bad ]]; then
		pass "$FAM-conntrack-$var"
	else
		fail "$FAM-conntrack-$var" "${bad%; }"
	fi

	n=$(rule_pkts "$raw" DADDR)
	bad=
	if [[ $MODE == bpf || $MODE == auto || $MODE == direct ]]; then
		[[ -z $n ]] || bad+="raw PREROUTING: want no DADDR rule with the BPF backend or the direct path, got: $(squash <<<"$raw"); "
	else
		[[ $n =~ ^[0-9]+$ ]] && ((n > 0)) ||
			bad+="raw PREROUTING: want the DADDR rule's packet counter > 0, got '$n' in: $(squash <<<"$raw"); "
	fi
	if [[ $MODE == auto ]] && ! grep -qi 'backend.*bpf' "$WORK/up.out"; then
		bad+="realserver up --backend auto: want it to say it chose the BPF backend, got: $(squash <"$WORK/up.out"); "
	fi
	if [[ $MODE == bpf || $MODE == auto ]]; then
		# FAMILY DSCP LOCAL VIP PACKETS BYTES
		entry=$(awk -v vip="$VIP" '$4 == vip {print $5}' <<<"${LS[map]}")
		[[ $entry =~ ^[0-9]+$ ]] && ((entry > 0)) ||
			bad+="l3dsr rule list (BPF table): want VIP $VIP's entry to count packets, got '$entry' in: $(squash <<<"${LS[map]}"); "
	elif [[ $MODE == map || $MODE == direct ]]; then
		local rules entry want=1
		[[ $MODE == map ]] || want=0
		rules=$(grep -c 'DADDR' <<<"$raw")
		[[ $rules == "$want" ]] || bad+="raw PREROUTING: want $want DADDR rule(s) after two 'rule add' of this family ($MODE), got $rules; "
		# FAMILY DSCP LOCAL VIP PACKETS BYTES
		entry=$(awk -v vip="$VIP" '$4 == vip {print $5}' <<<"${LS[map]}")
		[[ $entry =~ ^[0-9]+$ ]] && ((entry > 0)) ||
			bad+="l3dsr rule list: want VIP $VIP's entry to count packets, got '$entry' in: $(squash <<<"${LS[map]}"); "
	fi
	if [[ -z $bad ]]; then
		pass "$FAM-daddr-counter-$var"
	else
		fail "$FAM-daddr-counter-$var" "${bad%; }"
	fi
}

demo_show() {
	demo "" "What the real server's link (eth0 in the realserver namespace) carried, before DADDR:"
	# -K: veth hands packets over with the checksum still to be filled in; do not flag that.
	demo "$(timeout 30 tcpdump -n -v -K -r "$WORK/rs.pcap" -c 1 \
		"ip and dst host $RIP4 and tcp dst port $TCP_PORT and (tcp[tcpflags] & tcp-syn) != 0" 2>/dev/null)" \
		"  ↑ the client's SYN, addressed to the RIP by IPVS, with tos 0x$(printf %x $((DSCP4 << 2))) = DSCP $DSCP4: the code that stands for VIP $VIP4."
	demo "" "conntrack on the real server while a connection was open (DADDR ran before conntrack):"
	demo "$(grep "ESTABLISHED src=$CLI4 dst=$VIP4 " "$WORK/ipv4.ct" | head -n 1)" \
		"  ↑ recorded as client ↔ VIP, so the VIP's reply matches it."
	demo "" "What the router forwarded from the real server's link ($RTR_IF_RS):"
	demo "$(timeout 30 tcpdump -n -r "$WORK/rtr-rs.pcap" -c 2 "ip and src host $VIP4 and dst host $CLI4" 2>/dev/null)" \
		"  ↑ the replies leave the real server from the VIP, straight to the client."
	demo "" "Packets toward the client on the router's director link (r-dir): ${PC[rtr-dir4]}" \
		"  ↑ none: the director never sees a reply. Its IPVS counters (conns inpkts outpkts):" \
		"    TCP $(ipvs_stats "${LS[ipvs]}" TCP "$VIP4:$TCP_PORT"), UDP $(ipvs_stats "${LS[ipvs]}" UDP "$VIP4:$UDP_PORT")"
	demo ""
}

run_variant() {
	local var=$1 fams=("${@:2}") v c jobs=()
	MODE=$var
	# Map mode and BPF use Debian's default iptables (nft) for everything else.
	[[ $var != map && $var != direct && $var != bpf && $var != auto ]] || var=nft
	IPT=iptables-$var IP6T=ip6tables-$var
	var=$MODE
	SETUP_ERR=
	rm -f "$WORK/setup.err"
	log "variant $var: setup"
	if ! command -v "$IPT" >/dev/null || ! command -v "$IP6T" >/dev/null; then
		SETUP_ERR="$IPT or $IP6T not installed"
	fi
	[[ -n $SETUP_ERR ]] || hosts_up
	if [[ -z $SETUP_ERR ]]; then
		# Servers and captures start in the background while the rules go in.
		servers_start
		caps_start
		par director_lb realserver_rules servers_ready caps_ready
	fi
	if [[ -n $SETUP_ERR ]]; then
		for v in "${fams[@]}"; do
			for c in tcp udp dscp direct-reply ipvs-oneway conntrack daddr-counter; do
				fail "ipv$v-$c-$var" "setup: $SETUP_ERR"
			done
		done
		teardown
		return
	fi
	log "variant $var: traffic"
	for v in "${fams[@]}"; do jobs+=("traffic_family $v"); done
	par "${jobs[@]}"
	caps_stop
	log "variant $var: checks"
	collect
	for v in "${fams[@]}"; do check_family "$v" "$var"; done
	[[ $DEMO != 1 ]] || demo_show
	log "variant $var: teardown"
	teardown
}

write_servers
if [[ $DEMO == 1 ]]; then
	demo "Classic L3 DSR on $(uname -r), iptables-nft, in network namespaces of this VM:" "" \
		"  client $CLI4 ── router ── director $DIR4: VIP $VIP4 on lo; IPVS NAT VIP:$TCP_PORT → $RIP4:$TCP_PORT," \
		"                    │        and iptables -t mangle: DSCP $DSCP4 on packets for the VIP" \
		"                    └─────── realserver $RIP4 (the RIP), another subnet: VIP $VIP4 on lo;" \
		"                             iptables -t raw PREROUTING -m dscp --dscp $DSCP4 -j DADDR --set-daddr $VIP4" \
		"" "  request: client → router → director → router → realserver (dst rewritten VIP→RIP, DSCP $DSCP4 set)" \
		"  reply:   realserver → router → client, from the VIP, never through the director"
	run_variant nft 4
else
	# CD_VARIANTS: the lockdown boot (tests/lockdown) runs "auto", which is the bpf variant with
	# the backend chosen because xt_DADDR cannot load: the BPF path's cases run there, on both
	# kernels, and not again here (make test's time budget).
	for var in ${CD_VARIANTS:-legacy nft map direct}; do run_variant "$var" 4 6; done
fi
exit 0
