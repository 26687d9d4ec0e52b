package health

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// execTarget is a target with addresses that only the environment sees.
var execTarget = Target{
	Service: netip.MustParseAddrPort("10.0.0.1:80"),
	Proto:   ipvs.ProtoTCP,
	Real:    netip.MustParseAddr("192.0.2.10"),
}

func sh(script string) Spec {
	return Spec{Kind: KindExec, Command: []string{"sh", "-c", script}}
}

func TestExecPassesOnExit0WithTheTargetInItsEnvironment(t *testing.T) {
	s := sh(`test "$L3DSR_VIP/$L3DSR_PORT/$L3DSR_REAL/$L3DSR_PROTO" = 10.0.0.1/80/192.0.2.10/tcp && test -n "$PATH"`)
	if r := runProbe(context.Background(), s, execTarget); !r.OK {
		t.Fatal(r.Err)
	}
}

func TestExecFailsWithTheLastLineOfStderr(t *testing.T) {
	r := runProbe(context.Background(), sh(`echo first >&2; echo "  the reason  " >&2; echo >&2; exit 1`), execTarget)
	want := "exec 10.0.0.1:80 via 192.0.2.10: sh: exit status 1: the reason"
	if r.OK || r.Err.Error() != want {
		t.Errorf("%+v, want the error %q", r, want)
	}
	r = runProbe(context.Background(), Spec{Kind: KindExec, Command: []string{"/nonexistent/check"}}, execTarget)
	if r.OK || !strings.Contains(r.Err.Error(), "/nonexistent/check") {
		t.Errorf("%+v, want an error that names the command", r)
	}
	r = runProbe(context.Background(), Spec{Kind: KindExec}, execTarget)
	if r.OK || !strings.Contains(r.Err.Error(), "no command to run") {
		t.Errorf("%+v, want no command", r)
	}
}

// TestExecKillsItsProcessGroupAtTheTimeout runs a command that starts a
// child and waits for it: both die at the timeout.
func TestExecKillsItsProcessGroupAtTheTimeout(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	s := sh(`sleep 30 & echo $! > ` + pidfile + `; wait`)
	s.Timeout = 200 * time.Millisecond
	failsByTimeout(t, s, execTarget, "sh: still running, killed with its process group")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d outlived the timeout", pid)
		}
	}
}

// alive says whether pid runs: it exists and is not a zombie waiting for
// its new parent to reap it.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
