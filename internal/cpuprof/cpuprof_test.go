package cpuprof

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cpu.prof")
	t.Setenv(env, p)
	stop, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		t.Fatalf("no profile written: %v", err)
	}
	t.Setenv(env, filepath.Join(t.TempDir(), "no", "such", "dir"))
	if _, err := Start(); err == nil || !strings.HasPrefix(err.Error(), env+": ") {
		t.Fatalf("a file that cannot be made: %v", err)
	}
	t.Setenv(env, "")
	stop, err = Start()
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
