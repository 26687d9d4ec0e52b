# shellcheck shell=bash
# bpf_go: the BPF backend's Go tests (internal/bpfdsr) on this kernel: the verifier accepts the
# program, BPF_PROG_TEST_RUN runs every checksum case and skb state the kernel can build, and
# the loader pins, edits, replaces, attaches (tcx where the kernel has it, clsact where not) and
# detaches against the real kernel. Runs build/bpfdsr.test and relays each Go test and subtest
# as a case (tests/lib/gotest.sh says how). TestObjectIsGenerated (the committed object is what
# bpf/ compiles to) reads the source tree relative to the package and compiles with clang: it
# is no kernel test and runs in `make unit` on the host, so it is left out here.

set -u
# shellcheck source=../lib/gotest.sh
source "$L3DSR_SRC/tests/lib/gotest.sh"

go_test_cases "$L3DSR_BUILD/bpfdsr.test" 600 -test.skip TestObjectIsGenerated
exit 0
