package xtrule

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/statedir"
)

// The lock files of every test go to a directory of the test run's, not
// /run/l3dsr; TestEnsureAcrossProcesses' processes share their parent's.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "xtrule-state")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(statedir.Env, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// slowReads makes fake's -S answer what the chain held when it was asked,
// but only after a while, as a loaded host does: a caller that appends
// without the lock would append after another caller read "no rule".
func slowReads(fake *fakeIptables, d time.Duration) runFunc {
	var mu sync.Mutex
	return func(ctx context.Context, name string, args ...string) result {
		mu.Lock()
		res := fake.run(ctx, name, args...)
		mu.Unlock()
		if len(args) > 3 && args[3] == "-S" {
			time.Sleep(d)
		}
		return res
	}
}

// Twenty Ensures at once, like twenty parallel `rule add`s on a namespace
// without the rule (issue 19), append one rule per family. Each has its own
// Rules, as each process has, and takes the lock file as a process does.
func TestEnsureConcurrentAppendsOnce(t *testing.T) {
	fake := newFake()
	run := slowReads(fake, 20*time.Millisecond)
	var wg sync.WaitGroup
	added := make(chan Family, 20)
	for i := range 20 {
		f := IPv4
		if i%2 == 1 {
			f = IPv6
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := (&Rules{runCmd: run}).Ensure(context.Background(), f)
			if err != nil {
				t.Error(err)
			}
			if ok {
				added <- f
			}
		}()
	}
	wg.Wait()
	close(added)
	var got []string
	for f := range added {
		got = append(got, f.String())
	}
	if fake.count("iptables") != 1 || fake.count("ip6tables") != 1 {
		t.Errorf("rules after 20 concurrent Ensures: %q; want one map-mode rule per family", fake.chains)
	}
	if len(got) != 2 {
		t.Errorf("Ensures that said they appended: %q, want one per family", got)
	}
}

// A lock held past the timeout fails the change before any iptables run,
// with the lock file and its holder named.
func TestEnsureLockTimeout(t *testing.T) {
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 50 * time.Millisecond
	release, err := statedir.LockNetns(context.Background(), lockName, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fake := newFake()
	r := &Rules{runCmd: fake.run}
	_, err = r.Ensure(context.Background(), IPv4)
	want := fmt.Sprintf("held by pid %d (", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "/lock/rules-") ||
		!strings.Contains(err.Error(), "not taken in 50ms") {
		t.Errorf("Ensure with the lock held: %v; want the lock file and %q", err, want)
	}
	if err := r.Delete(context.Background(), IPv4); err == nil {
		t.Errorf("Delete with the lock held: no error")
	}
	if _, err := r.Reshape(context.Background(), IPv4); err == nil {
		t.Errorf("Reshape with the lock held: no error")
	}
	if len(fake.calls) != 0 {
		t.Errorf("iptables ran without the lock: %q", fake.calls)
	}
}

// fakeBinary emulates iptables -S and -A on a file per binary in $FAKE_DIR,
// the -S answering late, as a loaded host does.
const fakeBinary = `#!/bin/sh
chain="$FAKE_DIR/chain-$(basename "$0")"
exec 8>>"$chain.lock"
flock 8
case "$4" in
-S) echo "-P PREROUTING ACCEPT"; cat "$chain" 2>/dev/null; flock -u 8; sleep 0.05 ;;
-A) shift 4; echo "-A $*" >>"$chain" ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`

// childEnv makes this test binary an l3dsr that ensures the rule of the
// family it names, and exits.
const childEnv = "XTRULE_TEST_ENSURE"

// The same race as TestEnsureConcurrentAppendsOnce between processes that
// run real binaries (a fake iptables on PATH), as parallel `rule add`s do.
func TestEnsureAcrossProcesses(t *testing.T) {
	if f := os.Getenv(childEnv); f != "" {
		fam := IPv4
		if f == "6" {
			fam = IPv6
		}
		if _, err := (&Rules{}).Ensure(context.Background(), fam); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) is not installed")
	}
	dir := t.TempDir()
	for _, b := range []string{"iptables", "ip6tables"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte(fakeBinary), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var cmds []*exec.Cmd
	for i := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnsureAcrossProcesses$")
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "FAKE_DIR="+dir,
			fmt.Sprintf("%s=%d", childEnv, 4+2*(i%2)))
		cmd.Stderr = &strings.Builder{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("an Ensure process: %v: %s", err, cmd.Stderr)
		}
	}
	for _, b := range []string{"iptables", "ip6tables"} {
		data, _ := os.ReadFile(filepath.Join(dir, "chain-"+b))
		if n := strings.Count(string(data), mapLine+"\n"); n != 1 {
			t.Errorf("%s after 20 processes' Ensures: %q; want one map-mode rule", b, data)
		}
	}
}

// $L3DSR_LOCK_TIMEOUT sets the wait; a value that is not a positive
// duration is refused with the variable, the value and the fix.
func TestWaitLimitFromEnv(t *testing.T) {
	for _, c := range []struct{ env, want, err string }{
		{"", "2m0s", ""},
		{"15m", "15m0s", ""},
		{"10", "", `$L3DSR_LOCK_TIMEOUT="10" is not a positive duration: give one such as 5m, or unset it for the default 2m0s`},
		{"-1s", "", `$L3DSR_LOCK_TIMEOUT="-1s" is not a positive duration`},
	} {
		t.Setenv(lockTimeoutEnv, c.env)
		d, err := waitLimit()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.env, err, c.err)
			}
			if _, lerr := lock(context.Background()); lerr == nil || !strings.Contains(lerr.Error(), c.err) {
				t.Errorf("%q: lock error %v, want %q", c.env, lerr, c.err)
			}
			continue
		}
		if err != nil || d.String() != c.want {
			t.Errorf("%q: %v, %v, want %s", c.env, d, err, c.want)
		}
	}
}
