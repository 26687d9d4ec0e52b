# shellcheck shell=bash
# map_genl: the Go table over generic netlink (maptable/) against the real module. Runs the
# integration tests of maptable/integration_linux_test.go from build/maptable.test and relays
# each Go test and subtest as a case (tests/lib/gotest.sh says how).

set -u
# shellcheck source=../lib/gotest.sh
source "$L3DSR_SRC/tests/lib/gotest.sh"

go_test_cases "$L3DSR_BUILD/maptable.test" 400 -test.run Integration
exit 0
