# shellcheck shell=bash
# ipvs_client: the Go IPVS client (internal/ipvs/) against the kernel's IPVS, cross-checked with ipvsadm.
# Runs the integration tests of internal/ipvs/integration_linux_test.go from build/ipvs.test and relays
# each Go test and subtest as a case (tests/lib/gotest.sh says how). The tests load ip_vs and
# its schedulers themselves and make their own network namespaces.

set -u
# shellcheck source=../lib/gotest.sh
source "$L3DSR_SRC/tests/lib/gotest.sh"

go_test_cases "$L3DSR_BUILD/ipvs.test" 400 -test.run Integration
exit 0
