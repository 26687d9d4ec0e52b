# shellcheck shell=bash
# The debug bench's own check (tests/kernel/checks.sh): a module that leaks must make the bench
# report a kmemleak FAIL for this scenario. This scenario itself passes.
insmod "$L3DSR_BUILD/kmod/$KREL/bugmod/l3dsr_bugmod.ko" bug=leak && rmmod l3dsr_bugmod
expect_eq bugmod-loaded "$?" 0 "insmod bug=leak, rmmod"
