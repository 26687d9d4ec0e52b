package bpfdsr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPinRootRefusesWhatIsNotBPFFS(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(bpffsEnv, dir)
	_, err := PinRoot()
	want := fmt.Sprintf("L3DSR_BPFFS=%s: %s is not a BPF filesystem: mount one there (mount -t bpf bpf %s)", dir, dir, dir)
	if err == nil || err.Error() != want {
		t.Fatalf("PinRoot on a plain directory: %v\nwant %s", err, want)
	}
	t.Setenv(bpffsEnv, filepath.Join(dir, "missing"))
	if _, err := PinRoot(); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("PinRoot on a missing directory: %v", err)
	}
	if _, err := Open(); err == nil || errors.Is(err, errNotInstalled) {
		t.Fatalf("Open without a bpffs: %v, want the bpffs error", err)
	}
}

func TestPermErrNamesTheCapabilities(t *testing.T) {
	err := permErr(fmt.Errorf("load program: %w", unix.EPERM))
	if !strings.HasPrefix(err.Error(), "loading the BPF program needs CAP_BPF and CAP_NET_ADMIN (run as root): ") || !errors.Is(err, unix.EPERM) {
		t.Fatalf("permErr(EPERM) = %v", err)
	}
	if err := permErr(unix.EINVAL); err != unix.EINVAL {
		t.Fatalf("permErr(EINVAL) = %v, want it unchanged", err)
	}
}

// An Install that died before pinning tables left pins; the next Install
// clears them and succeeds.
func TestInstallAfterAnUnfinishedOne(t *testing.T) {
	needRoot(t)
	tempBPFFS(t)
	ns := newNS(t)
	var dir string
	inNS(t, ns, func() {
		var err error
		if dir, err = pinDir(); err != nil {
			t.Fatal(err)
		}
	})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkdir(filepath.Join(dir, pinMeta), 0o700); err != nil {
		t.Fatal(err)
	}
	tb := install(t, ns)
	if _, err := tb.Totals(); err != nil {
		t.Fatalf("Totals after Install over an unfinished one: %v", err)
	}
}
