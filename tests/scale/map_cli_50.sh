# shellcheck shell=bash
# map_cli_50: map_cli.sh with the module and 50 replaces of a 65,536-entry table under the
# request loop (make test's map_cli runs 4 to stay within its time budget): none failed, the
# counters carried over exactly. `make vmtest-scale`.
MC_REPLACES=50 MC_N4=200
# shellcheck source=../scenarios/map_cli.sh
source "$L3DSR_SRC/tests/scenarios/map_cli.sh"
