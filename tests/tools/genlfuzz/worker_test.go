package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func fakeRun(k *fakeKernel, seed uint64, iterations int64, workers int) (string, int) {
	var out bytes.Buffer
	f := &fuzzer{seed: seed, iterations: iterations, deadline: time.Now().Add(time.Minute), out: &out, open: k.open,
		keep: &Key{DSCP: 10, VIP: [4]byte{10, 80, 0, 1}}}
	rc := f.runAll(workers, false, 0, time.Second)
	return out.String(), rc
}

// Replay: the same seed and iterations with one worker and no churn send
// the same requests in the same order, replace ids included; the run
// closes sockets mid-replace and reports its summary.
func TestWorkerReplays(t *testing.T) {
	a, b := newFake(), newFake()
	outA, rcA := fakeRun(a, 7, 500, 1)
	_, rcB := fakeRun(b, 7, 500, 1)
	if rcA != 0 || rcB != 0 {
		t.Fatalf("exit %d %d, want 0:\n%s", rcA, rcB, outA)
	}
	if !slices.Equal(a.sent, b.sent) {
		t.Fatal("seed 7 sent two different sequences")
	}
	if len(a.sent) < 500 || a.opens < 3 {
		t.Errorf("%d requests, %d sockets opened: want at least 500 and some closed mid-replace", len(a.sent), a.opens)
	}
	if !strings.HasPrefix(outA, "check dump-consistent: ok\ncheck counts: ok\n") ||
		!strings.Contains(outA, "requests in ") || !strings.Contains(outA, "kernel errors, 0 findings") {
		t.Errorf("output:\n%s", outA)
	}
}

// An errno the module may not answer is a finding with the seed, and
// the exit status is 1 with the replay line.
func TestFindingOnUnexpectedErrno(t *testing.T) {
	k := newFake()
	k.errno = unix.EBADF
	out, rc := fakeRun(k, 7, 500, 1)
	if rc != 1 || !strings.Contains(out, "FINDING: seed=7 worker=0 iteration=") || !strings.Contains(out, "errno 9 (bad file descriptor)") ||
		!strings.Contains(out, "replay: genlfuzz -seed 7 -iterations ") {
		t.Errorf("exit %d, output:\n%s", rc, out)
	}
}

// The final check fails when STATS_GET disagrees with the dump: a kernel
// that counts wrong is caught.
func TestCheckFailsOnWrongCount(t *testing.T) {
	k := newFake()
	k.statsEntries = 2
	out, rc := fakeRun(k, 7, 10, 1)
	if rc != 1 || !strings.Contains(out, "check dump-consistent: the dumps hold ") || !strings.Contains(out, "STATS_GET says 2 and 2") {
		t.Errorf("exit %d, output:\n%s", rc, out)
	}
}
