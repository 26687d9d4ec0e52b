# shellcheck shell=bash
# bench_bpf: the BPF backend's rows of bench.sh alone (`make bench-bpf`, minutes per kernel
# instead of bench.sh's hour): the tc ingress program with 1, 63, 4,096 and 65,536 entries per
# family beside map mode (the module) and nft's map in the same run, and ordinary traffic
# (DSCP 0 to the server's own address) through a full table of each, IPv4 and IPv6, 64 and
# 1,400 bytes; every figure a ratio to the baseline of its own round.
set -u
for f in env rx; do
	# shellcheck source=/dev/null
	source "$L3DSR_SRC/tests/bench/lib/$f.sh"
done

bench_env
rx_bench 3 300000 \
	"map-1 map-65536 nft-map bpf-1 bpf-63 bpf-4096 bpf-65536 pass-none pass-map-65536 pass-bpf-65536" \
	"4 6" "64 1400"
exit 0
