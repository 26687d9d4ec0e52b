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
	"base-none base-rawlegacy base-rawnft rev0-1 rev0-63 map-1 map-63 map-4096 map-65536 nft-1 nft-63 nft-map" \
	"4 6" "64 1400"
# IPIP decapsulation against L3 DSR and plain forwarding, behind a forwarding sender (rx.sh
# says why pktgen cannot feed IPIP straight to the real server).
rx_bench 5 300000 "fwd-plain fwd-ipip fwd-map63" "4" "64 1400"
e2e_bench 5 5 "dsr tun nat"
cp_bench 5 "l3dsr-add-63 l3dsr-replace-63 ipt-restore-63 ipt-append-63 l3dsr-replace-65536 ipvsadm-1000 ipvsgo-1000"
exit 0
