package main

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func fakeRun(k *fakeKernel, seed uint64, iterations int64, workers int) (string, int) {
	var out bytes.Buffer
	f := &fuzzer{seed: seed, iterations: iterations, deadline: time.Now().Add(time.Minute), out: &out, open: k.open,
		keep: &Key{DSCP: 10, VIP: [4]byte{10, 80, 0, 1}}, keepSpec: "10,10.80.0.1"}
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
	if a.idsRight < 50 || a.idsWrong != 0 {
		t.Errorf("%d requests carried the last BEGIN's id, %d another: want many and none", a.idsRight, a.idsWrong)
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

// The replay line of a run with several workers replays the request that
// was the finding, with one worker.
func TestReplayLineReproduces(t *testing.T) {
	// A request only worker 2 (seed 13) sends, early, fails.
	others := map[string]bool{}
	for _, op := range append(ops(11, 400), ops(12, 400)...) {
		for _, r := range op.Reqs {
			others[string(r.Body)] = true
		}
	}
	k := newFake()
	k.errno = unix.EBADF
	for _, op := range ops(13, 400) {
		for _, r := range op.Reqs {
			if k.failBody == "" && r.ID == idNone && !others[string(r.Body)] {
				k.failBody = string(r.Body)
			}
		}
	}
	out, rc := fakeRun(k, 11, 400, 3)
	re := regexp.MustCompile(`(?m)^replay: genlfuzz -seed (\d+) -iterations (\d+) -workers 1 -netns-churn=false -keep 10,10.80.0.1$`)
	m := re.FindStringSubmatch(out)
	if rc != 1 || m == nil {
		t.Fatalf("exit %d, no replay line in:\n%s", rc, out)
	}
	seed, _ := strconv.ParseUint(m[1], 10, 64)
	its, _ := strconv.ParseInt(m[2], 10, 64)
	// The finding's request: worker w's iteration its, then worker 0's.
	request := func(out string, w uint64) string {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^FINDING: seed=\d+ worker=%d iteration=%d: (request .*)$`, w, its)).FindStringSubmatch(out)
		if m == nil {
			return ""
		}
		return m[1]
	}
	want := request(out, seed-11)
	k2 := newFake()
	k2.errno, k2.failBody = unix.EBADF, k.failBody
	out2, _ := fakeRun(k2, seed, its, 1)
	if got := request(out2, 0); seed != 13 || want == "" || got != want {
		t.Errorf("replay seed %d, %d iterations: finding %q, want %q\n%s", seed, its, got, want, out)
	}
}
