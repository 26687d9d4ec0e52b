package config

import (
	"strings"
	"testing"
)

// The last step of a director plan commits the batch, once, after every
// other change.
func TestCommittedCommitsAfterTheLastStep(t *testing.T) {
	d := newFakeDirector()
	var at []int
	steps := committed(planDir(t, d, dirBase), func() error { at = append(at, len(d.calls)); return nil })
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	if len(at) != 1 || at[0] != 5 {
		t.Errorf("commits after calls %v, want one after the 5 changes", at)
	}
	if got := committed(nil, func() error { t.Error("commit of an empty plan"); return nil }); len(got) != 0 {
		t.Errorf("empty plan became %d steps", len(got))
	}
}

// A commit that fails (the nftables transaction of the marks) undoes
// every change of the plan, the last step's too, and the rollback ends
// with a commit, which takes back marks the batch sent before its end.
func TestCommitFailureUndoesThePlan(t *testing.T) {
	d := newFakeDirector()
	before := d.state()
	var commits []int
	steps := committed(planDir(t, d, dirBase), func() error {
		commits = append(commits, len(d.calls))
		if len(commits) == 1 {
			return errorString("nft: boom")
		}
		return nil
	})
	out, err := (Plan{steps}).Apply()
	if err == nil || !strings.Contains(err.Error(), "nft: boom") || !strings.Contains(err.Error(), "the 4 change(s) made before it were undone") {
		t.Fatalf("err = %v", err)
	}
	if len(out.Done) != 4 {
		t.Errorf("%d steps reported done, want the 4 before the commit", len(out.Done))
	}
	if after := d.state(); after != before {
		t.Errorf("state not restored:\nbefore %s\nafter  %s\ncalls %q", before, after, d.calls)
	}
	// After the 5 changes; then after the undo of all 5.
	if len(commits) != 2 || commits[0] != 5 || commits[1] != 10 {
		t.Errorf("commits after calls %v, want [5 10]", commits)
	}
}
