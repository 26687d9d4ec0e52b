// Package nstest is for integration tests that run against the kernel:
// the one switch that runs them (they need root), and network namespaces
// of their own, so that a test changes nothing of the host. They run only
// when asked, as tests/lib/gotest.sh does in the VM:
//
//	L3DSR_INTEGRATION=1 go test -run Integration ./maptable
//
// or a binary built with `go test -c` (tests/scenarios/ipvs_client.sh,
// map_genl.sh, dscp_mark.sh).
package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
)

// env is the variable that runs the integration tests: they run only with
// env=1.
const env = "L3DSR_INTEGRATION"

// Require skips t unless the integration tests were asked for. needs says
// what they need besides, for the skip message.
func Require(t testing.TB, needs string) {
	t.Helper()
	if os.Getenv(env) != "1" {
		t.Skipf("set %s=1 to run against the kernel (%s)", env, needs)
	}
}

var seq atomic.Int32

// NS is a named network namespace (so that commands can run in it with
// `ip netns exec`), with lo up.
type NS struct {
	Name string
	// FD is an open descriptor of the namespace, closed when the test
	// ends.
	FD int
}

// New creates a namespace named after prefix and deletes it when the test
// ends; but first it skips t unless the integration tests were asked for
// (Require).
func New(t testing.TB, prefix, needs string) *NS {
	t.Helper()
	Require(t, needs)
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		exec.Command("ip", "netns", "del", name).Run()
		t.Fatalf("opening /run/netns/%s: %v", name, err)
	}
	t.Cleanup(func() {
		f.Close()
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	// IPVS refuses IPv4 destinations in a namespace without lo's local
	// routes, and nft tests send through lo.
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return &NS{Name: name, FD: int(f.Fd())}
}
