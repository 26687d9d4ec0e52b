# shellcheck shell=bash
# addr_mode_4096: addr_mode.sh with 4,096 IPv6 VIPs each keyed by its own address (make test's
# addr_mode sprays 1,024 to stay within its time budget). `make vmtest-scale`.
AM_N6=4096
# shellcheck source=../scenarios/addr_mode.sh
source "$L3DSR_SRC/tests/scenarios/addr_mode.sh"
