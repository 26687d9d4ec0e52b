# shellcheck shell=bash
# bench_smoke: the bench harness still produces numbers (`make test` runs this; `make bench`
# runs bench.sh). A few thousand packets per family for one map-mode table (through the rule and
# through the direct hook), one short iperf3 run, a few control-plane timings (a director of 63
# services and a real server of 63 VIPs among them). The cases check that each produced a
# parseable figure > 0 and that every packet reached UDP, never how big a figure is.
set -u
for f in env rx e2e cp; do
	# shellcheck source=/dev/null
	source "$L3DSR_SRC/tests/bench/lib/$f.sh"
done

bench_env
rx_bench 1 3000 "map-63 map-direct-63 addr-4096 bpf-63" "4 6" "64"
rx_bench 1 3000 "fwd-map-63 pass-map-63" "4" "64"
e2e_bench 1 2 "dsr"
cp_bench 1 "l3dsr-replace-63 dir-base-63 dir-apply-63 dir-apply1-63 rs-base-63 rs-apply-63"
exit 0
