package statedir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOf(t *testing.T) {
	t.Setenv(Env, "/x")
	if d, err := Of(); err != nil || !strings.HasPrefix(d, "/x/netns-") {
		t.Fatalf("Of = %q, %v", d, err)
	}
}

func TestWriteAndReadJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new", "f.json")
	v := map[string]int{"kept": 1}
	if err := ReadJSON(p, &v); err != nil || v["kept"] != 1 {
		t.Fatalf("missing file: want v as it was and no error, got %v %v", v, err)
	}
	if err := WriteFile(p, []byte(`{"a": 2}`)); err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := ReadJSON(p, &got); err != nil || got["a"] != 2 {
		t.Fatalf("read back: %v %v", got, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := WriteFile(p, []byte("{")); err != nil {
		t.Fatal(err)
	}
	if err := ReadJSON(p, &got); !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("corrupt file: want ErrCorrupt naming it, got %v", err)
	}
}

// Shared locks go together; an exclusive one waits for them.
func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d", "x.lock")
	r1, err := Lock(p, unix.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Lock(p, unix.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func())
	go func() {
		u, err := Lock(p, unix.LOCK_EX)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	r1()
	select {
	case <-got:
		t.Fatal("exclusive lock taken while a shared one is held")
	case <-time.After(30 * time.Millisecond):
	}
	r2()
	(<-got)()
}

// A namespace lock is one process's at a time (each LockNetns opens the
// file anew, as another process would); a waiter gets it once it is
// released, and one not released in time is an error that names the file
// and the holder.
func TestLockNetns(t *testing.T) {
	root := t.TempDir()
	t.Setenv(Env, root)
	ctx := context.Background()
	path, err := netnsLockPath("rules")
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Join(root, "lock"); filepath.Dir(path) != dir || !strings.HasPrefix(filepath.Base(path), "rules-") {
		t.Fatalf("lock file %s, want rules-INODE.lock in %s", path, dir)
	}
	release, err := LockNetns(ctx, "rules", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("lock file: %v", err)
	}

	_, err = LockNetns(ctx, "rules", 30*time.Millisecond)
	want := fmt.Sprintf("lock %s not taken in 30ms: held by pid %d (", path, os.Getpid())
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("second lock: %v; want %q...", err, want)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := LockNetns(cctx, "rules", time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("lock with a cancelled context: %v, want context.Canceled", err)
	}
	other, err := LockNetns(ctx, "other", 30*time.Millisecond)
	if err != nil {
		t.Errorf("a lock of another name: %v", err)
	} else {
		other()
	}

	got := make(chan error)
	go func() {
		r, err := LockNetns(ctx, "rules", 5*time.Second)
		if err == nil {
			r()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("waiter took the lock while it was held: %v", err)
	default:
	}
	release()
	if err := <-got; err != nil {
		t.Errorf("waiter after the release: %v", err)
	}
}
