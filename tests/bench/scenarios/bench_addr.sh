# shellcheck shell=bash
# bench_addr: the addr-mode rows of bench.sh alone (`make bench-addr`, minutes per kernel
# instead of bench.sh's hour): map mode and addr mode with 1, 4,096 and 65,536 entries, and
# ordinary traffic (DSCP 0 to the server's own address) through tables full of each, every
# figure a ratio to the baseline of its own round.
set -u
for f in env rx; do
	# shellcheck source=/dev/null
	source "$L3DSR_SRC/tests/bench/lib/$f.sh"
done

bench_env
rx_bench "${L3DSR_BENCH_ROUNDS:-3}" 300000 \
	"map-1 addr-1 addr-4096 addr-65536 pass-none pass-map-65536 pass-addr-4096 pass-addr-65536" "4 6" "64"
exit 0
