package statedir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often LockNetns tries a lock another process holds.
const lockPoll = 10 * time.Millisecond

// netnsLockPath is the lock file NAME of the calling process's network
// namespace: ROOT/lock/NAME-INODE.lock. It is not in the namespace's
// netns-INODE directory: Of removes that directory when it finds it stale,
// and a process still holding a lock in it would then hold it alone while
// the next one locks a new file of the same name. The lock files are
// never removed (for the same reason); /run empties at boot.
func netnsLockPath(name string) (string, error) {
	ino, err := netnsInode()
	if err != nil {
		return "", err
	}
	return filepath.Join(root(), "lock", name+"-"+ino+".lock"), nil
}

// LockNetns takes the exclusive lock NAME of the calling process's network
// namespace (netnsLockPath), waiting for it up to timeout or until ctx is
// done. An error of a lock not taken in time names the file and the
// process that holds it. The returned func releases it; the lock goes with
// the process too, so a killed holder never leaves it taken.
func LockNetns(ctx context.Context, name string, timeout time.Duration) (release func(), err error) {
	path, err := netnsLockPath(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			holder := lockHolder(f)
			f.Close()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("lock %s not taken in %v: held by %s", path, timeout, holder)
			}
			return nil, fmt.Errorf("waiting for lock %s (held by %s): %w", path, holder, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
