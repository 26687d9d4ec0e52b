# shellcheck shell=bash
# map_cli_bpf: map_cli.sh's cases on the BPF backend (issue 17): 220 `rule add --backend bpf`s
# (200 IPv4 VIPs over 4 local addresses, 20 IPv6), each VIP's requests counted exactly, the
# replace round trip, the CLI's errors, addr mode's any-DSCP entries, 50 replaces of a
# 65,536-entry table under a request loop with none failed and the counters carried over, and
# the flush. About 7 minutes a kernel, so it runs in its own target: `make vmtest-scale`
# (tests/vm/run.sh with this folder as L3DSR_SCENARIO_DIR).
MC_BACKEND=bpf MC_REPLACES=50 MC_N4=200
# shellcheck source=../scenarios/map_cli.sh
source "$L3DSR_SRC/tests/scenarios/map_cli.sh"
