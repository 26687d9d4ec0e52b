// Package testfiles is for tests that read files from a directory: it
// writes a set of them into a fresh temporary one.
package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

// Write writes each file of files (a path relative to the directory, with
// its parent directories made as needed, and its content) into a new
// temporary directory that the test removes, and returns that directory.
func Write(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
