package main

import (
	"errors"
	"strings"
	"testing"
)

// bpfSystem is fakeSystem with a fake of the BPF backend's install that
// counts its calls and answers with changes or err.
func bpfSystem(t *testing.T, err error) (*fakeTable, *int) {
	t.Helper()
	table := newFakeTable()
	fakeSystem(t, table)
	calls := 0
	sysFor(t).ensureBPF = func() ([]string, error) {
		calls++
		if err != nil {
			return nil, err
		}
		return []string{"loaded the tc-BPF program and pinned its maps", "attached the tc-BPF program to eth0 (ingress)"}, nil
	}
	return table, &calls
}

// --backend bpf installs the backend first and says what it did, once per
// command; without it nothing is installed.
func TestRuleBackendBPF(t *testing.T) {
	table, calls := bpfSystem(t, nil)
	status, stdout, stderr := runCLI("rule", "add", "--backend", "bpf", "--dscp", "5", "--vip", "10.0.0.5")
	want := "loaded the tc-BPF program and pinned its maps\nattached the tc-BPF program to eth0 (ingress)\n"
	if status != exitOK || !strings.HasPrefix(stdout, want) || *calls != 1 || len(table.entries) != 1 {
		t.Errorf("add --backend bpf: exit %d, stdout %q (want it to start with %q), stderr %q, installs %d, entries %d",
			status, stdout, want, stderr, *calls, len(table.entries))
	}
	if status, _, stderr = runCLI("rule", "add", "--dscp", "6", "--vip", "10.0.0.6"); status != exitOK || *calls != 1 {
		t.Errorf("add without --backend: exit %d (%s), installs %d, want still 1", status, stderr, *calls)
	}
	file := writeTable(t, `[{"family": "ipv4", "dscp": 7, "vip": "10.0.0.7"}]`)
	if status, _, stderr = runCLI("rule", "replace", "--backend", "bpf", "-f", file); status != exitOK || *calls != 2 {
		t.Errorf("replace --backend bpf: exit %d (%s), installs %d, want 2", status, stderr, *calls)
	}
}

// A bad --backend is a usage error, and a failed install a runtime one;
// neither touches the table.
func TestRuleBackendErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		err    error
		status int
		text   string
	}{
		{[]string{"--backend", "auto"}, nil, exitUsage, "--backend auto is realserver up's: give module or bpf"},
		{[]string{"--backend", "nft"}, nil, exitUsage, `backend "nft": use module`},
		{[]string{"--backend", "bpf"}, errors.New("no BPF filesystem mounted at /sys/fs/bpf"), exitRuntime, "no BPF filesystem mounted at /sys/fs/bpf"},
	} {
		table, calls := bpfSystem(t, tc.err)
		status, _, stderr := runCLI(append([]string{"rule", "add", "--dscp", "5", "--vip", "10.0.0.5"}, tc.args...)...)
		if status != tc.status || !strings.Contains(stderr, tc.text) || len(table.entries) != 0 {
			t.Errorf("%v: exit %d, stderr %q, entries %d; want exit %d with %q and no entry", tc.args, status, stderr, len(table.entries), tc.status, tc.text)
		}
		if tc.err == nil && *calls != 0 {
			t.Errorf("%v: the backend was installed %d times on a usage error", tc.args, *calls)
		}
	}
}
