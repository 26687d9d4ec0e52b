package main

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// The sockets live in a new namespace and the thread comes back to its
// own: the workers beside the churner never run elsewhere.
func TestSocketsInNewNetns(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("unshare(CLONE_NEWNET) needs root")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, _ := os.Readlink("/proc/thread-self/ns/net")
	socks, err := socketsInNewNetns(2, 0x10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Readlink("/proc/thread-self/ns/net")
	if before == "" || before != after {
		t.Errorf("the thread's namespace went from %q to %q", before, after)
	}
	for _, s := range socks {
		s.decode = func(b []byte) (reply, error) { return reply{}, nil }
		// nlctrl answers in the new namespace too.
		if a, err := s.exchange(Request{Flags: flagRequest | flagDump, Body: genlHeader(3, 1)}); err != nil || len(a.replies) == 0 {
			t.Errorf("a dump in the new namespace: %v, %d replies", err, len(a.replies))
		}
		s.close()
	}
}
