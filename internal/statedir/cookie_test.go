package statedir

import (
	"os"
	"path/filepath"
	"testing"
)

// A directory written by a namespace that is gone, whose inode this one
// has now, is not this namespace's state: Of removes it. One written by
// this namespace, or before cookies were kept, stays.
func TestOfDropsAGoneNamespacesState(t *testing.T) {
	root := t.TempDir()
	t.Setenv(Env, root)
	cookie := uint64(7)
	saved := netnsCookie
	netnsCookie = func() (uint64, bool) { return cookie, true }
	t.Cleanup(func() { netnsCookie = saved })

	dir, err := Of()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "realserver.json")
	if err := WriteFile(state, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, cookieFile)); err != nil || string(b) != "7\n" {
		t.Fatalf("cookie file: %q, %v", b, err)
	}
	if _, err := Of(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("our own state went: %v", err)
	}

	cookie = 8 // the namespace is gone; a new one got its inode
	if _, err := Of(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a gone namespace's state is still there: %v", err)
	}

	// A directory from before cookies were kept is taken as ours.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Of(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state without a cookie went: %v", err)
	}
}
