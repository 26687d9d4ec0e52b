package bpfdsr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// generateArgs is the //go:generate line of gen.go, so that the test
// compiles exactly as `make bpf` does.
func generateArgs(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("gen.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate "); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatal("gen.go has no //go:generate line")
	return nil
}

// The committed object must be what bpf/l3dsr.bpf.c compiles to: a source
// edit without `make bpf` would otherwise ship the old program. clang's
// output is reproducible (two compiles give the same bytes), so bytes are
// compared.
func TestObjectIsGenerated(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatal("clang not found: run scripts/deps.sh build")
	}
	// Read here, so that go test's cache knows the result depends on them
	// (it does not see what the compiler reads).
	srcs, _ := filepath.Glob("../../bpf/*")
	for _, f := range srcs {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	args := generateArgs(t)
	if len(args) < 4 || args[0] != "go" {
		t.Fatalf("unexpected //go:generate line: %q", args)
	}
	dir := t.TempDir()
	// "go run PKG" then bpf2go's flags, which -output-dir joins.
	args = append([]string{args[1], args[2], "-output-dir", dir}, args[3:]...)
	cmd := exec.Command(goCommand(t), args...)
	cmd.Env = append(os.Environ(), "GOPACKAGE=bpfdsr")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bpf2go: %v\n%s", err, out)
	}
	for _, name := range []string{"l3dsr_bpfel.o", "l3dsr_bpfel.go"} {
		fresh, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s is not what bpf/l3dsr.bpf.c compiles to: run `make bpf` and commit the result", name)
		}
	}
}

// goCommand is the go command of this toolchain. A test binary built with
// -trimpath (as make builds everything) has no GOROOT of its own, so the
// go on PATH, which ran the test, is the fallback.
func goCommand(t *testing.T) string {
	if root := runtime.GOROOT(); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: GOROOT is unknown (built with -trimpath) and go is not on PATH: %v", err)
	}
	return gobin
}
