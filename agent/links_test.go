package agent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"golang.org/x/sys/unix"
)

// fakeLinks is the host as the link keeper sees it: links, the program's
// attachments, and attaches that fail while a link's name is in failing.
type fakeLinks struct {
	noBackend bool
	ing       []string
	all       []rtnl.Link
	attached  map[string]bool
	failing   map[string]bool
	calls     []string
}

func (f *fakeLinks) installed() (bool, error)                       { return !f.noBackend, nil }
func (f *fakeLinks) ingress(context.Context) ([]string, error)      { return f.ing, nil }
func (f *fakeLinks) links() ([]rtnl.Link, error)                    { return f.all, nil }
func (f *fakeLinks) watch(context.Context) (<-chan struct{}, error) { return nil, nil }

func (f *fakeLinks) attach(name string) (bool, error) {
	f.calls = append(f.calls, name)
	if f.failing[name] {
		return false, errors.New("link " + name + ": operation not permitted")
	}
	if f.attached[name] {
		return false, nil
	}
	f.attached[name] = true
	return true, nil
}

func newFakeLinks(names ...string) *fakeLinks {
	f := &fakeLinks{attached: map[string]bool{}, failing: map[string]bool{}}
	f.all = append(f.all, rtnl.Link{Index: 1, Name: "lo", Flags: unix.IFF_LOOPBACK | unix.IFF_UP})
	for i, n := range names {
		f.all = append(f.all, rtnl.Link{Index: i + 2, Name: n, Flags: unix.IFF_UP})
	}
	return f
}

func newKeeper(f *fakeLinks) (*linkKeeper, *bytes.Buffer, *int) {
	var log bytes.Buffer
	n := 0
	return &linkKeeper{h: f, log: slog.New(slog.NewTextHandler(&log, nil)), failed: func() { n++ }}, &log, &n
}

func TestLinkKeeperAttachesANewLinkOnce(t *testing.T) {
	f := newFakeLinks("eth0")
	k, log, _ := newKeeper(f)
	k.reconcile(context.Background(), "start")
	f.all = append(f.all, rtnl.Link{Index: 9, Name: "eth1", Flags: unix.IFF_UP})
	k.reconcile(context.Background(), "link event")
	if !slices.Equal(f.calls, []string{"eth0", "eth0", "eth1"}) {
		t.Errorf("attach calls: got %q, want eth0 (start), then eth0 and eth1 (event)", f.calls)
	}
	if got := strings.Count(log.String(), "bpf: attached the program"); got != 2 {
		t.Errorf("want 2 attach log lines (eth0, eth1), got %d:\n%s", got, log)
	}
	if !strings.Contains(log.String(), "link=eth1 why=\"link event\"") {
		t.Errorf("the log does not say eth1 was attached on a link event:\n%s", log)
	}
}

func TestLinkKeeperHonoursTheIngressList(t *testing.T) {
	f := newFakeLinks("eth0", "eth1", "eth2")
	f.ing = []string{"eth1", "gone0"}
	k, _, _ := newKeeper(f)
	k.reconcile(context.Background(), "start")
	if !slices.Equal(f.calls, []string{"eth1"}) {
		t.Errorf("with --ingress eth1,gone0: attach calls %q, want only eth1 (not lo, eth0, eth2, nor a missing link)", f.calls)
	}
}

// Only lo, or a namespace the module serves: nothing to attach.
func TestLinkKeeperAttachesNothing(t *testing.T) {
	onlyLo := newFakeLinks()
	moduleHost := newFakeLinks("eth0")
	moduleHost.noBackend = true
	for name, f := range map[string]*fakeLinks{"only lo": onlyLo, "no BPF pins": moduleHost} {
		k, _, _ := newKeeper(f)
		k.reconcile(context.Background(), "start")
		if len(f.calls) != 0 {
			t.Errorf("%s: attach calls %q, want none", name, f.calls)
		}
	}
}

func TestLinkKeeperRetriesAFailedAttachOnTheNextTick(t *testing.T) {
	f := newFakeLinks("eth0")
	f.failing["eth0"] = true
	k, log, failures := newKeeper(f)
	k.reconcile(context.Background(), "start")
	if *failures != 1 || !strings.Contains(log.String(), "level=ERROR msg=\"bpf: attaching the program; trying again on the next repair\" link=eth0 err=\"link eth0: operation not permitted\"") {
		t.Fatalf("a failed attach: want 1 error counted and logged with the link and the reason, got %d:\n%s", *failures, log)
	}
	delete(f.failing, "eth0")
	k.reconcile(context.Background(), "repair")
	if !f.attached["eth0"] || !slices.Equal(f.calls, []string{"eth0", "eth0"}) || *failures != 1 {
		t.Errorf("the next tick: want eth0 attached on a second call and no new error, got calls %q attached %v errors %d", f.calls, f.attached, *failures)
	}
}

func TestLinkKeeperNilIsOff(t *testing.T) {
	var k *linkKeeper
	k.reconcile(context.Background(), "repair") // a director-only agent: no keeper, no panic
}
