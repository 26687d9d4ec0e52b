# shellcheck shell=bash
# The debug bench's own check (tests/kernel/checks.sh): a use-after-free must be caught by KASAN,
# which panics the guest (panic_on_warn): the bench reports a kernel/console FAIL with the report.
insmod "$L3DSR_BUILD/kmod/$KREL/bugmod/l3dsr_bugmod.ko" bug=uaf
fail bugmod-survived "the use-after-free went unnoticed: KASAN should have stopped the guest"
