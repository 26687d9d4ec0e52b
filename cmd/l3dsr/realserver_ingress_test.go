package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/realserver"
)

// --ingress reaches UpIngress as given (sorted), "any" as an empty list,
// and its absence as nil: the host's list stays.
func TestRealServerUpIngress(t *testing.T) {
	f := withFakeRS(t)
	for _, tc := range []struct {
		flag []string
		want string // "" for nil
	}{
		{nil, ""},
		{[]string{"--ingress", "eth2,eth1"}, "eth1,eth2"},
		{[]string{"--ingress", "any"}, "any"},
		{[]string{"--ingress="}, "any"},
	} {
		f.ingress = nil
		args := append([]string{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "21"}, tc.flag...)
		if rc, _, stderr := runCLI(args...); rc != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.flag, rc, stderr)
		}
		got := ""
		if f.ingress != nil {
			got = f.ingress.String()
		}
		if got != tc.want {
			t.Errorf("%v: UpIngress got %q, want %q", tc.flag, got, tc.want)
		}
	}

	// A bad name is the command line's: exit 2 before the system is opened.
	f.opened = false
	rc, _, stderr := runCLI("realserver", "up", "--vip", "10.0.0.1", "--dscp", "21", "--ingress", "eth+")
	if rc != exitUsage || !strings.Contains(stderr, `ingress interface "eth+" is not an interface name`) || f.opened {
		t.Errorf("eth+: exit %d, stderr %q, opened %v", rc, stderr, f.opened)
	}
	// An interface the host lacks (found by the manager) exits 2 too.
	f.err = fmt.Errorf("ingress interface %q does not exist here: %w", "eth9", realserver.ErrHostInput)
	rc, _, stderr = runCLI("realserver", "up", "--vip", "10.0.0.1", "--dscp", "21", "--ingress", "eth9")
	if rc != exitUsage || !strings.Contains(stderr, `"eth9" does not exist here`) {
		t.Errorf("eth9: exit %d, stderr %q", rc, stderr)
	}
}
