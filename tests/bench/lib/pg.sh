#!/bin/bash
# pg.sh FAM SIZE DST TCLASS COUNT DSTMAC [SNMPDIR]: one pktgen run, inside the namespace of
# eth0 (run it with `ip netns exec`; /proc/net/pktgen and /proc/net/snmp are per namespace).
# SNMPDIR (default /proc/net) is where the UDP counters are read: /proc/PID/net of a process
# in the real server's namespace when the packets are forwarded there.
#
# pktgen's thread 0 (bound to CPU 0) injects COUNT UDP packets of SIZE bytes (Ethernet frame,
# no FCS) into the receive path of eth0 (xmit_mode netif_receive: netif_receive_skb is called
# synchronously, so pktgen's own rate is the rate at which the stack takes them), to DST with
# the TOS / traffic class byte TCLASS (hex). No socket listens on the port: each packet that
# reaches UDP counts as NoPorts.
#
# Prints one line: PPS SENT DELIVERED, where DELIVERED is the change of UDP InDatagrams +
# NoPorts (Udp6 for IPv6): what reached the UDP layer. Exit 1 with the reason on stderr.
set -eu
fam=$1 size=$2 dst=$3 tclass=$4 count=$5 dstmac=$6 snmp=${7:-/proc/net}
pg=/proc/net/pktgen

pgw() { # FILE CMD
	if ! echo "$2" >"$pg/$1" 2>/dev/null; then
		echo "pktgen: '$2' > $pg/$1 refused: $(grep -m 1 '^Result' "$pg/$1" 2>/dev/null)" >&2
		exit 1
	fi
}

udp_in() { # InDatagrams + NoPorts of the family
	if [[ $fam == 4 ]]; then
		awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
			print $c["InDatagrams"] + $c["NoPorts"]; exit }' "$snmp/snmp"
	else
		awk '$1 == "Udp6InDatagrams" || $1 == "Udp6NoPorts" { s += $2 } END { print s + 0 }' "$snmp/snmp6"
	fi
}

[[ -d $pg ]] || { echo "pktgen: $pg missing (modprobe pktgen)" >&2; exit 1; }
pgw kpktgend_0 rem_device_all
pgw kpktgend_0 "add_device eth0"
# clone_skb must stay 0 in netif_receive mode: every packet is a fresh skb.
pgw eth0 "xmit_mode netif_receive"
pgw eth0 "count $count"
pgw eth0 "pkt_size $size"
pgw eth0 "delay 0"
pgw eth0 "burst 1"
pgw eth0 "dst_mac $dstmac"
pgw eth0 "src_mac 02:00:00:00:00:01"
pgw eth0 "udp_src_min 9000"
pgw eth0 "udp_src_max 9000"
pgw eth0 "udp_dst_min 9"
pgw eth0 "udp_dst_max 9"
# IPv6 UDP needs a checksum (zero is invalid there); set it for both families alike.
pgw eth0 "flag UDPCSUM"
if [[ $fam == 4 ]]; then
	pgw eth0 "dst $dst"
	pgw eth0 "src_min 198.51.100.10"
	pgw eth0 "src_max 198.51.100.10"
	pgw eth0 "tos $tclass"
else
	pgw eth0 "dst6 $dst"
	pgw eth0 "src6 2001:db8:c::10"
	pgw eth0 "traffic_class $tclass"
fi

before=$(udp_in)
pgw pgctrl start
after=$(udp_in)

res=$(cat "$pg/eth0")
pps=$(awk '/^Result: OK/ { getline; sub(/pps$/, "", $1); print $1; exit }' <<<"$res")
sent=$(awk '$1 == "pkts-sofar:" { print $2; exit }' <<<"$res")
if [[ ! $pps =~ ^[0-9]+$ || ! $sent =~ ^[0-9]+$ ]]; then
	echo "pktgen: no result in $pg/eth0: $(tr '\n' ' ' <<<"$res" | cut -c1-400)" >&2
	exit 1
fi
pgw kpktgend_0 rem_device_all
echo "$pps $sent $((after - before))"
