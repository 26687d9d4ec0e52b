# shellcheck shell=bash
# installed: the packages as a user gets them, inside the VM (run by tests/pkg/run.sh while the
# .debs are installed on the host, whose root the guest sees). USE_INSTALLED beside this file
# tells guest.sh not to install the build tree's module, index and extension, so what the guest
# has is exactly what the packages and DKMS put on the host.
#
#   pcl (client) ── veth ── prs (real server, configured by the unit's own command lines)
#
# The client routes the VIP via the RIP and nft turns the packet into what a director sends
# (dst = RIP, DSCP 21); the real server's DADDR puts the VIP back and the answer comes from it.
#
# Cases:
#   packaged-files   /usr/bin/l3dsr and the xtables libxt_DADDR.so are the files dpkg installed
#                    (md5sums of package l3dsr), no build-tree module in /lib/modules/KREL/extra
#   unit-lines       the installed unit has ConditionPathExists=/etc/l3dsr/l3dsr.conf, an
#                    ExecStartPre and an ExecStart running /usr/bin/l3dsr apply
#   boot             its ExecStartPre and ExecStart lines, run in prs (the config at
#                    /etc/l3dsr/l3dsr.conf through /etc/netns/prs/), exit 0
#   dkms-module      modinfo -n xt_DADDR is the DKMS file, and the loaded module is it:
#                    /sys/module/xt_DADDR/srcversion and version equal that file's
#   rule-list        `l3dsr rule list` in prs shows dscp 21 -> VIP, the --map rule is in raw
#   dsr              TCP from the client to the RIP with DSCP 21 is answered by the VIP, the
#                    server saw the VIP as its local address
#   reboot-*         netns deleted, xt_DADDR unloaded, /run/l3dsr wiped; then the same unit
#                    lines again: same dkms module, identical rule list and rules, dsr again.
# The reboot is simulated: the VM bench has no systemd as init.

set -u

C=pcl S=prs
CLI4=198.51.100.1 RIP4=198.51.100.2 VIP4=10.0.0.1 DSCP=21 PORT=8080
WORK=$PWD
UNIT=/lib/systemd/system/l3dsr.service
# DKMS compresses the module like the kernel's own (xt_DADDR.ko.xz on 6.12).
DKMS_KO=$(compgen -G "/lib/modules/$KREL/updates/dkms/xt_DADDR.ko*" | head -n 1)
: "${DKMS_KO:=/lib/modules/$KREL/updates/dkms/xt_DADDR.ko}"
squash() { tr '\n' ' ' | sed -e 's/  */ /g' -e 's/ $//' | cut -c1-400; }
nsx() {
	local n=$1
	shift
	timeout 60 ip netns exec "$n" "$@"
}

teardown() {
	local n
	for n in $C $S; do
		[[ -e /run/netns/$n ]] || continue
		nsx "$n" iptables-legacy -w -t raw -F 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	rm -rf /etc/netns/$S
}
on_exit teardown

# --- packaged-files: what the guest runs is what dpkg installed
xtlibdir=$(pkg-config --variable=xtlibdir xtables 2>/dev/null)
[[ -d $xtlibdir ]] || xtlibdir=/usr/lib/x86_64-linux-gnu/xtables
md5ok() { # PATH: its md5 is the one package l3dsr lists for it
	local want got
	want=$(awk -v p="${1#/}" '$2 == p {print $1}' /var/lib/dpkg/info/l3dsr.md5sums 2>/dev/null)
	got=$(md5sum "$1" 2>/dev/null | cut -d' ' -f1)
	[[ -n $want && $want == "$got" ]] || echo "$1: md5 '$got', dpkg lists '${want:-nothing}'"
}
bad="$(md5ok /usr/bin/l3dsr)$(md5ok "$xtlibdir/libxt_DADDR.so")"
[[ -e /lib/modules/$KREL/extra/xt_DADDR.ko ]] && bad+=" build-tree module present in /lib/modules/$KREL/extra"
[[ -f $DKMS_KO ]] || bad+=" no DKMS module $DKMS_KO"
[[ -d /sys/module/xt_DADDR ]] && bad+=" xt_DADDR already loaded before the unit ran"
if [[ -z $bad ]]; then pass packaged-files; else fail packaged-files "$bad"; fi

# --- unit-lines
unit_lines() { sed -n "s/^$1=//p" "$UNIT"; }
PRE=$(unit_lines ExecStartPre)
START=$(unit_lines ExecStart)
COND=$(unit_lines ConditionPathExists)
if [[ $COND == /etc/l3dsr/l3dsr.conf && -n $PRE && $START == "/usr/bin/l3dsr apply "* ]]; then
	pass unit-lines
else
	fail unit-lines "$UNIT: ConditionPathExists '$COND', ExecStartPre '$PRE', ExecStart '$START'"
fi

topo_up() {
	ip netns add $C && ip netns add $S &&
		ip -n $C link add c0 type veth peer name r0 netns $S || return 1
	ip -n $C -batch - <<-EOF || return 1
		link set lo up
		link set c0 up
		addr add $CLI4/24 dev c0
		route add $VIP4/32 via $RIP4
	EOF
	# What a director does to the client's packets: DSCP for the VIP, destination the RIP.
	nsx $C nft -f - <<-EOF || return 1
		table ip pkgcli {
			chain post {
				type filter hook postrouting priority 0;
				ip daddr $VIP4 meta l4proto tcp ip dscp set $DSCP
				ip daddr $VIP4 counter ip daddr set $RIP4
			}
		}
	EOF
	ip -n $S -batch - <<-EOF || return 1
		link set lo up
		link set r0 up
		addr add $RIP4/24 dev r0
	EOF
	# ip netns exec bind-mounts /etc/netns/prs/l3dsr over /etc/l3dsr: the unit's path.
	mkdir -p /etc/netns/$S/l3dsr
	cat >/etc/netns/$S/l3dsr/l3dsr.conf <<-EOF
		realserver:
		  iptables: legacy
		  vips:
		    - vip: $VIP4
		      dscp: $DSCP
	EOF
}

run_unit_line() { # LINE: as systemd runs it, a leading '-' makes a failure harmless
	local line=$1 ignore=
	if [[ $line == -* ]]; then ignore=1 line=${line#-}; fi
	# shellcheck disable=SC2086 # the unit's words
	nsx $S $line >>"$WORK/boot.log" 2>&1 || [[ -n $ignore ]]
}

# boot NAME: the topology and the unit's lines; reports NAME.
boot() {
	local err='' l
	: >"$WORK/boot.log"
	topo_up 2>>"$WORK/boot.log" || err="topology failed"
	if [[ -z $err ]] && ! nsx $S test -e "$COND"; then err="ConditionPathExists $COND is false in $S"; fi
	if [[ -z $err ]]; then
		while IFS= read -r l; do run_unit_line "$l" || err+=" ExecStartPre '$l' failed"; done <<<"$PRE"
		while IFS= read -r l; do run_unit_line "$l" || err+=" ExecStart '$l' failed"; done <<<"$START"
	fi
	if [[ -z $err ]]; then pass "$1"; else fail "$1" "$err: $(tail -n 5 "$WORK/boot.log" | squash)"; fi
}

# dkms_loaded NAME: the loaded xt_DADDR is the DKMS file.
dkms_loaded() {
	local want_src got_src want_ver got_ver path
	path=$(modinfo -n xt_DADDR 2>&1)
	want_src=$(modinfo -F srcversion "$DKMS_KO" 2>&1)
	got_src=$(cat /sys/module/xt_DADDR/srcversion 2>&1)
	want_ver=$(modinfo -F version "$DKMS_KO" 2>&1)
	got_ver=$(cat /sys/module/xt_DADDR/version 2>&1)
	if [[ $path == "$DKMS_KO" && -n $want_src && $got_src == "$want_src" && -n $want_ver && $got_ver == "$want_ver" ]]; then
		pass "$1"
	else
		fail "$1" "want modinfo -n $DKMS_KO (got '$path'), srcversion '$want_src' (loaded '$got_src'), version '$want_ver' (loaded '$got_ver')"
	fi
}

# state: what the unit sets up, without counters.
state() {
	{
		echo "== rule list"
		nsx $S /usr/bin/l3dsr rule list -o json | python3 -c '
import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: (e["dscp"], e["vip"])):
    print(e["dscp"], e.get("local") or "-", e["vip"])'
		echo "== raw"
		nsx $S iptables-legacy -w -t raw -S PREROUTING
		echo "== lo"
		ip -n $S -o addr show dev lo | awk '{print $4}'
	} 2>&1
}

# shellcheck disable=SC2317 # called by wait_for
listening() { [[ -n $(nsx "$S" ss -Hltn "sport = :$PORT") ]]; }

# dsr NAME: one TCP exchange with the VIP through the RIP.
dsr() {
	local out want="local=$VIP4:$PORT peer=$CLI4"
	# shellcheck disable=SC2016 # expanded by socat's shell
	nsx $S socat TCP-LISTEN:$PORT,bind=$VIP4,reuseaddr \
		SYSTEM:'echo "local=$SOCAT_SOCKADDR:$SOCAT_SOCKPORT peer=$SOCAT_PEERADDR"' >>"$WORK/socat.log" 2>&1 &
	local spid=$!
	wait_for 20 listening
	# -t: after stdin's EOF, wait for the answer (a TCG guest is slow to fork the echo).
	out=$(nsx $C timeout 20 socat -t 10 -T 10 - TCP:$VIP4:$PORT,connect-timeout=5 </dev/null 2>&1)
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	local rewritten
	rewritten=$(nsx $C nft list table ip pkgcli | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
	if [[ $out == "$want"* && ${rewritten:-0} -gt 0 ]]; then
		pass "$1"
	else
		fail "$1" "want '$want' from the VIP (packets sent to the RIP: '$rewritten'), got '$(squash <<<"$out")'; socat: $(tail -n 3 "$WORK/socat.log" | squash)"
	fi
}

# --- first boot
boot boot
dkms_loaded dkms-module
BEFORE=$(state)
if grep -qxE "$DSCP (-|any) $VIP4" <<<"$BEFORE"; then
	if grep -q -- '-j DADDR' <<<"$BEFORE"; then pass rule-list; else fail rule-list "no DADDR rule in raw PREROUTING: $(squash <<<"$BEFORE")"; fi
else
	fail rule-list "want dscp $DSCP -> $VIP4 in the rule list: $(squash <<<"$BEFORE")"
fi
dsr dsr

# --- "reboot": nothing of the first boot survives but the files
teardown
rm -rf /run/l3dsr
# shellcheck disable=SC2317 # called by wait_for
unload() { ! [[ -d /sys/module/xt_DADDR ]] || modprobe -r xt_DADDR 2>/dev/null; }
if wait_for 30 unload && [[ ! -d /sys/module/xt_DADDR ]]; then
	pass reboot-unloaded
else
	fail reboot-unloaded "xt_DADDR still loaded (refcnt $(cat /sys/module/xt_DADDR/refcnt 2>&1))"
fi
boot reboot-boot
dkms_loaded reboot-dkms-module
AFTER=$(state)
if [[ $AFTER == "$BEFORE" ]]; then
	pass reboot-same-state
else
	fail reboot-same-state "state differs from the first boot: $(diff <(echo "$BEFORE") <(echo "$AFTER") | head -n 8 | squash)"
fi
dsr reboot-dsr
exit 0
