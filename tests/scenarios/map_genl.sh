# shellcheck shell=bash
# map_genl: the Go client (genl/) against the real module. Runs the integration tests of
# genl/integration_linux_test.go from build/genl.test and relays each Go test and subtest as a
# case (tests/lib/gotest.sh says how).

set -u
# shellcheck source=../lib/gotest.sh
source "$L3DSR_SRC/tests/lib/gotest.sh"

go_test_cases "$L3DSR_BUILD/genl.test" 400 -test.run Integration
exit 0
