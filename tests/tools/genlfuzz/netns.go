package main

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// socketsInNewNetns opens n sockets in a new network namespace and leaves
// it: the sockets are then the namespace's only references, and closing
// the last one deletes it.
func socketsInNewNetns(n int, family uint16, timeout time.Duration) ([]*sock, error) {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("unsharing the network namespace: %w", err)
	}
	var socks []*sock
	var openErr error
	for range n {
		s, err := openSock(family, timeout)
		if err != nil {
			openErr = err
			break
		}
		socks = append(socks, s)
	}
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so it dies with its goroutine instead
		// of running others in the wrong namespace.
		return socks, fmt.Errorf("returning to the original network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	if openErr != nil {
		for _, s := range socks {
			s.close()
		}
		return nil, openErr
	}
	return socks, nil
}
