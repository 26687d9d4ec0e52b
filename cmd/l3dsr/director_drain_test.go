package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/director"
)

func TestDirectorDrainUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"drain", "--vip", "10.0.0.1:80"},
		{"drain", "--real", "10.1.0.10"},
		{"drain", "--vip", "10.0.0.1:80", "--real", "2001:db8::10"},
		{"drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--wait", "--timeout", "0s"},
		{"drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--timeout", "soon"},
		{"drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--weight", "3"},
		{"undrain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--weight", "-1"},
		{"undrain", "--vip", "10.0.0.1:80"},
		{"drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "extra"},
	} {
		f := withFakeDirector(t)
		st, _, stderr := runCLI(append([]string{"director", "real"}, args...)...)
		if st != exitUsage || stderr == "" {
			t.Errorf("director real %s: want exit 2 with a message, got %d %q", strings.Join(args, " "), st, stderr)
		}
		if len(f.calls) != 0 {
			t.Errorf("director real %s: usage error reached the director: %v", strings.Join(args, " "), f.calls)
		}
	}
}

func TestDirectorDrain(t *testing.T) {
	f := withFakeDirector(t)
	f.result = director.Result{Changes: []string{"drained real server 10.1.0.10"}}
	st, stdout, _ := runCLI("director", "real", "drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10")
	if st != exitOK || stdout != "+ drained real server 10.1.0.10\n" || !slices.Equal(f.calls, []string{"Drain"}) {
		t.Fatalf("drain: got %d %q %v", st, stdout, f.calls)
	}
	if f.key.VIP.String() != "10.0.0.1" || f.key.Port != 80 || f.real.Addr.String() != "10.1.0.10" {
		t.Errorf("drain of %v %v", f.key, f.real.Addr)
	}

	// --wait: returns once the fake's connections reach 0, printing each count.
	sysFor(t).drainEvery = time.Millisecond
	f.calls, f.conns, f.drainBy = nil, 2, 1
	st, stdout, _ = runCLI("director", "real", "drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--wait")
	want := "+ drained real server 10.1.0.10\n" +
		"real server 10.1.0.10 of tcp 10.0.0.1:80: 2 active connection(s)\n" +
		"real server 10.1.0.10 of tcp 10.0.0.1:80: 1 active connection(s)\n" +
		"real server 10.1.0.10 of tcp 10.0.0.1:80: 0 active connection(s)\n"
	if st != exitOK || stdout != want {
		t.Errorf("drain --wait: got %d %q, want %q", st, stdout, want)
	}

	// Connections that never end: exit 1 after the timeout, naming them.
	f.conns, f.drainBy = 5, 0
	st, _, stderr := runCLI("director", "real", "drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--wait", "--timeout", "30ms")
	if st != exitRuntime || !strings.Contains(stderr, "still has 5 active connection(s) after") || !strings.Contains(stderr, "--timeout") {
		t.Errorf("drain --wait timeout: got %d %q", st, stderr)
	}

	// The director's refusal (no such real): exit 1 with its message.
	f.err = errors.New("real server 10.1.0.99 is not a real server of tcp 10.0.0.1:80 ('l3dsr director show' lists them)")
	f.result, f.calls = director.Result{}, nil
	st, _, stderr = runCLI("director", "real", "drain", "--vip", "10.0.0.1:80", "--real", "10.1.0.99", "--wait")
	if st != exitRuntime || !strings.Contains(stderr, "is not a real server") || !slices.Equal(f.calls, []string{"Drain"}) {
		t.Errorf("drain of a missing real: got %d %q %v", st, stderr, f.calls)
	}
}

func TestDirectorUndrain(t *testing.T) {
	f := withFakeDirector(t)
	f.result = director.Result{Changes: []string{"undrained real server 10.1.0.10 of tcp 10.0.0.1:80: weight 100"}}
	st, stdout, _ := runCLI("director", "real", "undrain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10")
	if st != exitOK || !strings.Contains(stdout, "+ undrained") || f.weight != nil || !slices.Equal(f.calls, []string{"Undrain"}) {
		t.Errorf("undrain: got %d %q weight %v calls %v", st, stdout, f.weight, f.calls)
	}
	if st, _, _ = runCLI("director", "real", "undrain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--weight", "0"); st != exitOK || f.weight == nil || *f.weight != 0 {
		t.Errorf("undrain --weight 0: got %d %v", st, f.weight)
	}
	f.err = errors.New("real server 10.1.0.10 of tcp 10.0.0.1:80 is not drained")
	f.result = director.Result{}
	if st, _, stderr := runCLI("director", "real", "undrain", "--vip", "10.0.0.1:80", "--real", "10.1.0.10"); st != exitRuntime || !strings.Contains(stderr, "is not drained") {
		t.Errorf("undrain of an undrained real: got %d %q", st, stderr)
	}
}
