# shellcheck shell=bash
# bench: the full benchmark of issue 7 (tests/bench/run.sh runs it; BENCHMARKS.md reads its
# data lines). Receive path with pktgen, end-to-end iperf3, control-plane wall times.
set -u
for f in env rx e2e cp; do
	# shellcheck source=/dev/null
	source "$L3DSR_SRC/tests/bench/lib/$f.sh"
done

bench_env
rx_bench 5 300000 \
	"base-none base-rawlegacy base-rawnft rev0-1 rev0-63 map-1 map-63 map-4096 map-65536 \
	map-direct-1 map-direct-63 map-direct-4096 map-direct-65536 nft-1 nft-63 nft-map" \
	"4 6" "64 1400"
# IPIP decapsulation against L3 DSR and plain forwarding, behind a forwarding sender (rx.sh
# says why pktgen cannot feed IPIP straight to the real server); behind the same sender, the
# rewriting configurations without the header copy that pktgen's shared skbs force.
rx_bench 5 300000 "fwd-plain fwd-ipip fwd-rev0-1 fwd-map-1 fwd-map-63 fwd-map-65536 fwd-nft-1 fwd-nft-map" \
	"4" "64 1400"
# Ordinary traffic (DSCP 0 to the real server's own address): what each layout costs the
# packets it has to leave alone.
rx_bench 5 300000 "pass-none pass-rev0-63 pass-map-65536 pass-map-direct-65536 pass-nft-63 \
	pass-nft-map" "4 6" "64"
# Addr mode (issue 22): any-DSCP entries keyed by local address, and ordinary traffic through a
# table full of them, beside map mode in the same run.
rx_bench 5 300000 "map-1 addr-1 addr-4096 addr-65536 pass-map-65536 pass-addr-4096 pass-addr-65536" "4 6" "64"
# The BPF backend (issue 17): the same tables in the tc ingress program, beside map mode and nft
# in the same run, and ordinary traffic through a full BPF table.
rx_bench 5 300000 "map-1 map-65536 nft-map bpf-1 bpf-63 bpf-4096 bpf-65536 pass-map-65536 pass-bpf-65536" \
	"4 6" "64 1400"
e2e_bench 5 5 "dsr tun nat"
cp_bench 5 "l3dsr-add-63 l3dsr-replace-63 ipt-restore-63 ipt-append-63 l3dsr-replace-65536 ipvsadm-1000 ipvsgo-1000"
# The director's apply against the stock tools loading the same state (issue 27).
cp_bench 3 "dir-base-63 dir-apply-63 dir-apply1-63 dir-edit1-63 dir-base-252 dir-apply-252 dir-apply1-252 \
	dir-edit1-252 dir-base-1008 dir-apply-1008 dir-apply1-1008 dir-edit1-1008 \
	dir-base-4032 dir-apply-4032 dir-apply1-4032 dir-edit1-4032"
# The real server's apply against ip -batch + one rule replace of the same state.
cp_bench 3 "rs-base-63 rs-apply-63 rs-apply1-63 rs-base-1008 rs-apply-1008 rs-apply1-1008 \
	rs-base-4032 rs-apply-4032 rs-apply1-4032"
exit 0
