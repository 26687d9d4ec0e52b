package doctor

import (
	"context"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/nstest"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
	"golang.org/x/sys/unix"
)

// testNS is a namespace with a veth pair, e0 up with an address.
func testNS(t *testing.T) *nstest.NS {
	t.Helper()
	ns := nstest.New(t, "l3dsr-doctor", "root, the ethtool binary")
	for _, args := range []string{"link add e0 type veth peer name e1", "link set e0 up", "addr add 192.0.2.10/24 dev e0"} {
		if out, err := exec.Command("ip", append([]string{"-n", ns.Name}, strings.Fields(args)...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", args, err, out)
		}
	}
	return ns
}

// inNS runs fn on a thread in ns.
func inNS(t *testing.T, ns *nstest.NS, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(ns.FD, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// The live host, end to end: a dr-mode VIP set up by realserver.Up is
// clean; each break gives its finding, and running its fix in the
// namespace makes the host clean again. One thread does it all: the
// record's directory is named after /proc/self/ns/net, which is the
// namespace of the thread group's leader.
func TestIntegrationBreakAndFix(t *testing.T) {
	ns := testNS(t)
	t.Setenv(realserver.StateDirEnv, t.TempDir())
	ctx := context.Background()
	check := func() Report {
		h, closeFn, err := Open()
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer closeFn()
		rep, err := Check(ctx, h, &Expect{})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return rep
	}
	inNS(t, ns, func() {
		m, err := realserver.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.Up(ctx, realserver.Config{VIP: netip.MustParseAddr("10.0.0.3"), Mode: dsrtypes.ModeDR}, xtrule.Default); err != nil {
			t.Fatalf("Up: %v", err)
		}
		if rep := check(); len(rep.Findings) != 0 || !slices.Equal(rep.Roles, []string{"real server"}) {
			t.Fatalf("after up: %+v", rep)
		}
		for _, tc := range []struct{ break_, check string }{
			{"sysctl -w net.ipv4.conf.all.arp_announce=0", "arp_announce"},
			{"sysctl -w net.ipv4.conf.e0.arp_ignore=3", "arp_ignore"},
			{"ip addr del 10.0.0.3/32 dev lo", "vip-on-lo"},
			{"ethtool -K e0 rx off", "offload"},
		} {
			sh(t, ns, tc.break_)
			rep := check()
			if len(rep.Findings) != 1 || rep.Findings[0].Check != tc.check {
				t.Fatalf("after %s: %+v, want one %s finding", tc.break_, rep, tc.check)
			}
			sh(t, ns, rep.Findings[0].Fix)
			if after := check(); len(after.Findings) != 0 {
				t.Fatalf("after %s and its fix %q: %+v", tc.break_, rep.Findings[0].Fix, after.Findings)
			}
		}
	})
}

func sh(t *testing.T, ns *nstest.NS, cmd string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns.Name, "sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, out)
	}
}

// The ethtool ioctl reads what `ethtool -K` set.
func TestIntegrationFeatures(t *testing.T) {
	ns := testNS(t)
	for _, tc := range []struct {
		set  string
		want Features
	}{
		{"rx on gro on", Features{RxChecksum: true, GRO: true}},
		{"rx off gro on", Features{GRO: true}},
		{"rx on gro off", Features{RxChecksum: true}},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name, "ethtool", "-K", "e0"}, strings.Fields(tc.set)...)...).CombinedOutput(); err != nil {
			t.Fatalf("ethtool -K e0 %s: %v: %s", tc.set, err, out)
		}
		inNS(t, ns, func() {
			f, err := readFeatures("e0")
			if err != nil || f != tc.want {
				t.Errorf("after ethtool -K e0 %s: %+v, %v; want %+v", tc.set, f, err, tc.want)
			}
			if _, err := readFeatures("nope0"); err == nil || !strings.Contains(err.Error(), "nope0") {
				t.Errorf("a missing device: %v", err)
			}
		})
	}
}
