package statedir

import (
	"errors"
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
