# shellcheck shell=bash
# doctor: `l3dsr doctor` on a real server and a director that `l3dsr apply` set up (issue 16).
# Each case breaks one setting by hand, as an operator or another tool would; doctor must then
# exit 1 with a finding of that check, and the fix it prints (run as it is, in the host's
# namespace) must make doctor exit 0 again.
#
#   clean-rs, clean-director     doctor exits 0 on the hosts as apply left them
#   rs-CHECK, director-CHECK     the break, the finding, the fix (see the lists below)
#   rs-ingress-*, rs-map-rule-ingress, rs-tcp_reflect_tos*, rs-rip-*
#                                issue 22: the ingress note, tcp_reflect_tos without a reset,
#                                an addr-mode RIP missing or primary (doctor.d/cases22.sh)
#   not-root                     without CAP_NET_ADMIN doctor exits 1 and says so
set -u

topo_init o- 4 1
HERE=$(cd "$(dirname "$0")" && pwd)/doctor.d
BIN=$L3DSR_BIN
on_exit topo_down
if ! topo_up; then
	fail setup "the topology did not come up"
	exit 0
fi
out=$(ns "$NS_RS" "$BIN" apply -f "$HERE/rs.conf" 2>&1) || { fail setup "rs apply: $(squash <<<"$out")"; exit 0; }
out=$(ns "$NS_DIR" "$BIN" apply -f "$HERE/director.conf" 2>&1) || { fail setup "director apply: $(squash <<<"$out")"; exit 0; }

doctor() { ns "$1" "$BIN" doctor -f "$2" "${@:3}"; }
clean() { # CASE NS CONF
	local out rc
	out=$(doctor "$2" "$3" 2>&1)
	rc=$?
	[[ $rc == 0 ]] && pass "$1" || fail "$1" "doctor exit $rc: $(squash <<<"$out")"
}
clean clean-rs "$NS_RS" "$HERE/rs.conf"
# The director's DSR-path check needs accept_local and a loose rp_filter toward the real: the
# agent sets them; this host has no agent, so they are set as the agent would.
ns "$NS_DIR" sysctl -qw net.ipv4.conf.eth0.accept_local=1
clean clean-director "$NS_DIR" "$HERE/director.conf"

# broken CASE NS CONF CHECK BREAK: break, expect exit 1 with a finding of CHECK, run every fix
# doctor prints, expect exit 0.
broken() {
	local c=$1 n=$2 conf=$3 check=$4 out rc fixes f
	eval "$5" >/dev/null 2>&1
	out=$(doctor "$n" "$conf" -o json 2>/dev/null)
	rc=$?
	if [[ $rc != 1 ]] || ! grep -q "\"check\": *\"$check\"" <<<"$out"; then
		fail "$c" "after the break: doctor exit $rc, want 1 with a '$check' finding: $(squash <<<"$out")"
		return
	fi
	fixes=$(python3 -c 'import json,sys; [print(f["fix"]) for f in json.load(sys.stdin)["findings"] if f["level"] != "info"]' <<<"$out")
	while IFS= read -r f; do
		[[ -n $f ]] || continue
		log "$c: fix: $f"
		ip netns exec "$n" sh -c "L3DSR=$BIN; PATH=${BIN%/*}:\$PATH; $f" >/dev/null 2>&1 || log "$c: the fix exited $?"
	done <<<"$fixes"
	out=$(doctor "$n" "$conf" 2>&1)
	rc=$?
	[[ $rc == 0 ]] && pass "$c" || fail "$c" "after the fix ($(squash <<<"$fixes")): doctor exit $rc: $(squash <<<"$out")"
}

RS=$HERE/rs.conf DIR=$HERE/director.conf
broken rs-arp_ignore "$NS_RS" "$RS" arp_ignore 'ns "$NS_RS" sysctl -w net.ipv4.conf.all.arp_ignore=0'
broken rs-arp_announce "$NS_RS" "$RS" arp_announce 'ns "$NS_RS" sysctl -w net.ipv4.conf.all.arp_announce=0'
broken rs-rp_filter "$NS_RS" "$RS" rp_filter 'ns "$NS_RS" sysctl -w net.ipv4.conf.eth0.rp_filter=1'
broken rs-rp_filter-tunl0 "$NS_RS" "$RS" rp_filter 'ns "$NS_RS" sysctl -w net.ipv4.conf.tunl0.rp_filter=2'
broken rs-vip-on-lo "$NS_RS" "$RS" vip-on-lo 'ns "$NS_RS" ip addr del 10.0.0.1/32 dev lo'
broken rs-map-rule-missing "$NS_RS" "$RS" map-rule 'ns "$NS_RS" iptables -t raw -D PREROUTING -j DADDR --map'
broken rs-map-rule-twice "$NS_RS" "$RS" map-rule 'ns "$NS_RS" iptables -t raw -A PREROUTING -j DADDR --map'
broken rs-mapping "$NS_RS" "$RS" mapping 'ns "$NS_RS" "$BIN" rule del --dscp 21 --family ipv4'
broken rs-dscp-two-vips "$NS_RS" "$RS" dscp-two-vips 'ns "$NS_RS" "$BIN" rule add --dscp 21 --vip 10.0.0.9 --local 203.0.113.30'
broken rs-tunnel "$NS_RS" "$RS" tunnel 'ns "$NS_RS" ip link set tunl0 down'
broken rs-mss-clamp "$NS_RS" "$RS" mss-clamp 'ns "$NS_RS" nft delete table inet l3dsr_rs'
broken rs-offload "$NS_RS" "$RS" offload 'ns "$NS_RS" ethtool -K eth0 rx off'
broken director-conntrack "$NS_DIR" "$DIR" ipvs-sysctl 'ns "$NS_DIR" sysctl -w net.ipv4.vs.conntrack=1'
broken director-expire "$NS_DIR" "$DIR" ipvs-sysctl 'ns "$NS_DIR" sysctl -w net.ipv4.vs.expire_nodest_conn=0'
broken director-mark "$NS_DIR" "$DIR" director "ns \"\$NS_DIR\" nft delete element inet l3dsr vip4 '{ 10.0.0.1 . tcp . 80 }'"
broken director-accept_local "$NS_DIR" "$DIR" accept_local 'ns "$NS_DIR" sysctl -w net.ipv4.conf.eth0.accept_local=0'
broken director-rp_filter "$NS_DIR" "$DIR" rp_filter 'ns "$NS_DIR" sysctl -w net.ipv4.conf.eth0.rp_filter=1'

# shellcheck source=doctor.d/cases22.sh
source "$HERE/cases22.sh" && doctor22_cases

out=$(ns "$NS_RS" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$BIN" doctor -f "$RS" 2>&1)
rc=$?
[[ $rc == 1 && $out == *root* || $rc == 1 && $out == *CAP_NET_ADMIN* ]] && pass not-root || fail not-root "exit $rc: $(squash <<<"$out")"
