package bpfdsr

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// needRoot skips a test that loads BPF and makes namespaces when it
// cannot: the CI machine is root and has BPF.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it loads BPF and creates network namespaces")
	}
}

// tempBPFFS mounts a bpffs of the test's own and points L3DSR_BPFFS at
// it, so that no pin reaches the host's.
func tempBPFFS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		t.Fatalf("mount -t bpf bpf %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	t.Setenv(bpffsEnv, dir)
	return dir
}

var nsSeq atomic.Int32

// newNS creates a named network namespace, with lo up, deleted when the
// test ends.
func newNS(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("bpfdsr-%d-%d", os.Getpid(), nsSeq.Add(1))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// run runs a command and returns its output; failing is fatal.
func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNS runs fn on a thread in namespace name: the package works on the
// namespace of the thread that calls it.
func inNS(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns %s: %v", name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("setns back to the test's namespace: %v", err))
		}
	}()
	fn()
}

// vethPair makes a0 in nsA and b0 in nsB, addressed 10.9.0.1/24 and
// 10.9.0.2/24 (fd00:9::1 and ::2), up.
func vethPair(t *testing.T, nsA, nsB string) {
	t.Helper()
	run(t, "ip", "-n", nsA, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", nsB)
	for _, c := range [][]string{
		{"ip", "-n", nsA, "addr", "add", "10.9.0.1/24", "dev", "a0"},
		{"ip", "-n", nsA, "addr", "add", "fd00:9::1/64", "dev", "a0", "nodad"},
		{"ip", "-n", nsA, "link", "set", "a0", "up"},
		{"ip", "-n", nsB, "addr", "add", "10.9.0.2/24", "dev", "b0"},
		{"ip", "-n", nsB, "addr", "add", "fd00:9::2/64", "dev", "b0", "nodad"},
		{"ip", "-n", nsB, "link", "set", "b0", "up"},
	} {
		run(t, c...)
	}
}

// install is Install in ns, closed when the test ends.
func install(t *testing.T, ns string) *Table {
	t.Helper()
	var tb *Table
	var err error
	inNS(t, ns, func() { tb, err = Install() })
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}
