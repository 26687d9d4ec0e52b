package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cookieFile holds the netns cookie of the namespace a directory belongs
// to. The inode that names the directory is reused once its namespace is
// gone (containers come and go), and a new namespace must not inherit a
// dead one's record: it would "undo" setup it never made. The cookie is
// never reused while the system runs.
const cookieFile = "netns-cookie"

// netnsCookie is this process's namespace cookie (SO_NETNS_COOKIE, Linux
// 5.14); ok false where the kernel has none, which keeps the inode alone.
var netnsCookie = func() (uint64, bool) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	return c, err == nil
}

// dropStale removes dir when it belongs to a namespace that is gone: its
// cookie is not ours. A directory without one (written before cookies
// were kept) is taken as ours.
func dropStale(dir string) error {
	c, ok := netnsCookie()
	if !ok {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, cookieFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(data)) == strconv.FormatUint(c, 10) {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s, the state of a network namespace that is gone (its inode is this namespace's now): %w", dir, err)
	}
	return nil
}

// makeDir makes dir, and when it is a namespace's state directory (Of's
// netns-INODE) records the namespace's cookie in it.
func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c, ok := netnsCookie()
	if !ok || !strings.HasPrefix(filepath.Base(dir), "netns-") {
		return nil
	}
	p := filepath.Join(dir, cookieFile)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return os.WriteFile(p, []byte(strconv.FormatUint(c, 10)+"\n"), 0o644)
}

// NetnsCookie is this process's network namespace cookie; ok false where
// the kernel has none (before 5.14). bpfdsr names its pin directory by it,
// for the same reason this package records it: it is never reused.
func NetnsCookie() (uint64, bool) { return netnsCookie() }
