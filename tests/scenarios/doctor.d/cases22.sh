# shellcheck shell=bash
# doctor's findings of issue 22, as one function doctor.sh calls after its own cases (it needs
# doctor.sh's NS_RS, RS, BIN, RIP4, doctor and broken): add
#
#   source "$HERE/cases22.sh" && doctor22_cases
#
# before the not-root case. They need the other helpers' parts: `rule add --dscp any`
# (helper M) and the kernel's any-DSCP keys (helper K) for the rip cases.
#
#   rs-ingress-open       the clean real server (map rule without -i) exits 0 with the info
#                         note "IPv4 DSR codes are honoured from every interface"
#   rs-ingress-limited    the map rule replaced by `-i eth0 -j DADDR --map`: exit 0, the note
#                         names eth0 and nothing else
#   rs-map-rule-ingress   a `-i eth0` map rule beside l3dsr's rule without -i: map-rule
#                         problem, whose fix deletes the -i rule; then exit 0
#   rs-tcp_reflect_tos    net.ipv4.tcp_reflect_tos=1: exit 1 with exactly one warning, for VIP
#                         10.0.0.1's DSCP 21, naming set_dscp; 0 again: exit 0
#   rs-rip-missing        an any-DSCP entry for 203.0.113.29, on no interface: rip problem,
#                         whose fix (ip addr add 203.0.113.29/32 dev eth0) makes doctor exit 0
#   rs-rip-primary        an any-DSCP entry for eth0's own address: rip problem, whose fix
#                         (rule del --dscp any --local RIP4) makes doctor exit 0

# findings22 OUT CHECK: "LEVEL|WHAT" of each finding of CHECK in doctor's JSON, one a line (OUT
# is stdout and stderr: the JSON object comes first, the error line of an exit 1 after it).
findings22() {
	python3 -c 'import json,sys
t = sys.stdin.read()
for f in json.JSONDecoder().raw_decode(t[t.index("{"):])[0]["findings"]:
    if f["check"] == sys.argv[1]: print(f["level"] + "|" + f["what"])' "$2" <<<"$1"
}

# note22 CASE WANT: doctor exits 0 and its one IPv4 dscp-ingress note is WANT.
note22() {
	local out rc got
	out=$(doctor "$NS_RS" "$RS" -o json 2>&1)
	rc=$?
	got=$(findings22 "$out" dscp-ingress)
	if [[ $rc == 0 && $got == "info|$2" ]]; then
		pass "$1"
	else
		fail "$1" "doctor exit $rc, dscp-ingress findings '$got', want exit 0 and 'info|$2'"
	fi
}

doctor22_cases() {
	local ipt out rc got
	ipt=(ns "$NS_RS" iptables -t raw)
	note22 rs-ingress-open "IPv4 DSR codes are honoured from every interface (a map-mode rule without -i)"

	"${ipt[@]}" -A PREROUTING -i eth0 -j DADDR --map && "${ipt[@]}" -D PREROUTING -j DADDR --map
	note22 rs-ingress-limited "IPv4 DSR codes are honoured only on eth0 (map-mode rules with -i)"
	"${ipt[@]}" -A PREROUTING -j DADDR --map && "${ipt[@]}" -D PREROUTING -i eth0 -j DADDR --map

	broken rs-map-rule-ingress "$NS_RS" "$RS" map-rule 'ns "$NS_RS" iptables -t raw -A PREROUTING -i eth0 -j DADDR --map'

	ns "$NS_RS" sysctl -qw net.ipv4.tcp_reflect_tos=1
	out=$(doctor "$NS_RS" "$RS" -o json 2>&1)
	rc=$?
	got=$(findings22 "$out" tcp_reflect_tos)
	if [[ $rc == 1 && $got == "warning|net.ipv4.tcp_reflect_tos is 1 and VIP 10.0.0.1's DSCP 21 has no reset after the rewrite" && $out == *"set_dscp: 0"* ]]; then
		pass rs-tcp_reflect_tos
	else
		fail rs-tcp_reflect_tos "doctor exit $rc, tcp_reflect_tos findings '$got': $(squash <<<"$out")"
	fi
	ns "$NS_RS" sysctl -qw net.ipv4.tcp_reflect_tos=0
	clean rs-tcp_reflect_tos-off "$NS_RS" "$RS"

	broken rs-rip-missing "$NS_RS" "$RS" rip 'ns "$NS_RS" "$BIN" rule add --dscp any --local 203.0.113.29 --vip 10.0.0.1'
	ns "$NS_RS" "$BIN" rule del --dscp any --local 203.0.113.29 >/dev/null 2>&1
	ns "$NS_RS" ip addr del 203.0.113.29/32 dev eth0 2>/dev/null
	broken rs-rip-primary "$NS_RS" "$RS" rip "ns \"\$NS_RS\" \"\$BIN\" rule add --dscp any --local $RIP4 --vip 10.0.0.1"
}
