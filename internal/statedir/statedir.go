// Package statedir names the directory where l3dsr keeps what it must
// remember about one network namespace: the real server's record of what
// Up changed, the director's drained reals.
package statedir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/l3dsr/l3dsr/internal/errclass"
	"golang.org/x/sys/unix"
)

// Env overrides the root of the state directories (default defaultRoot),
// e.g. for tests.
const Env = "L3DSR_STATE_DIR"

// defaultRoot holds one directory per network namespace. /run is the
// right lifetime: after a reboot the kernel state is gone too.
const defaultRoot = "/run/l3dsr"

// Of is the state directory of the calling process's network namespace:
// ROOT/netns-INODE, ROOT being $L3DSR_STATE_DIR or /run/l3dsr. The inode
// of /proc/self/ns/net tells namespaces apart for as long as they live,
// which is as long as their state matters; a directory left by a gone
// namespace whose inode came back is removed (cookie.go).
func Of() (string, error) {
	ino, err := netnsInode()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root(), "netns-"+ino)
	if err := dropStale(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// root is $L3DSR_STATE_DIR, else defaultRoot.
func root() string {
	if r := os.Getenv(Env); r != "" {
		return r
	}
	return defaultRoot
}

// netnsInode is the inode of the calling process's network namespace.
func netnsInode() (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return "", fmt.Errorf("finding this network namespace (stat /proc/self/ns/net): %w", err)
	}
	return strconv.FormatUint(st.Ino, 10), nil
}

// ErrCorrupt is the kind of error of a state file that does not decode.
var ErrCorrupt = errors.New("corrupt state file")

// ReadJSON decodes the file at path into v; a missing file leaves v as it
// is. An error of a file that does not decode names it and matches
// ErrCorrupt: the caller says what moving it away would lose.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errclass.New(ErrCorrupt, "%s: %v", path, err)
	}
	return nil
}

// WriteFile replaces the file at path with data: a temporary file beside
// it, synced, renamed over it, so that a reader sees the old file or the
// new one, never part of one. The directory is made if missing.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := makeDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Lock takes a lock on the file at path, made if missing with its
// directory: how is unix.LOCK_EX, or unix.LOCK_SH to share it with other
// readers. Lock a file of its own beside the one it guards, which a
// rename (WriteFile) replaces. The returned func releases it.
func Lock(path string, how int) (func(), error) {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
