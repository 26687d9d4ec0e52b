package maptable

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// orderLog is one log of the kernel's and iptables' calls, so that a test
// sees their order.
type orderLog struct{ calls []string }

// modeTable is the fake module behind a genlTable, logging its mode
// changes into log.
type modeTable struct {
	*genlTable
	log     *orderLog
	setErr  error
	entries []Entry
}

func (t *modeTable) SetMode(m Mode) error {
	t.log.calls = append(t.log.calls, "kernel "+string(m))
	return t.setErr
}

func (t *modeTable) List() ([]Entry, error) { return t.entries, nil }

type modeRules struct {
	log       *orderLog
	have      map[xtrule.Family]bool
	ensureErr error
}

func (r *modeRules) Ensure(_ context.Context, f xtrule.Family) (bool, error) {
	r.log.calls = append(r.log.calls, fmt.Sprintf("ensure %v", f))
	if r.ensureErr != nil {
		return false, r.ensureErr
	}
	added := !r.have[f]
	r.have[f] = true
	return added, nil
}

func (r *modeRules) Delete(_ context.Context, f xtrule.Family) error {
	r.log.calls = append(r.log.calls, fmt.Sprintf("delete %v", f))
	r.have[f] = false
	return nil
}

func (r *modeRules) Exists(_ context.Context, f xtrule.Family) (bool, error) {
	return r.have[f], nil
}

func newModeFakes(entries ...Entry) (*modeTable, *modeRules, *orderLog) {
	log := &orderLog{}
	return &modeTable{log: log, entries: entries}, &modeRules{log: log, have: map[xtrule.Family]bool{}}, log
}

var (
	v4Entry = Entry{Family: 2, DSCP: 1, VIP: netip.MustParseAddr("10.0.0.1")}
	v6Entry = Entry{Family: 10, DSCP: 1, VIP: netip.MustParseAddr("2001:db8::1")}
)

// switchOK switches fakes with entries and IPv4's rule in place to m,
// and checks the order of the calls and the changes said.
func switchOK(t *testing.T, m Mode, entries []Entry, wantCalls, wantChanges string) {
	t.Helper()
	tab, rules, log := newModeFakes(entries...)
	rules.have[xtrule.IPv4] = true
	changes, err := SwitchMode(context.Background(), tab, rules, m)
	if got := strings.Join(log.calls, ", "); err != nil || got != wantCalls {
		t.Errorf("to %s: %v, calls %q, want %q", m, err, got, wantCalls)
	}
	if got := strings.Join(changes, "\n"); got != wantChanges {
		t.Errorf("to %s: changes:\n%s\nwant:\n%s", m, got, wantChanges)
	}
}

// To direct: the kernel first, then the rules that are there are deleted
// (no IPv6 delete: none there).
func TestSwitchToDirectKernelFirst(t *testing.T) {
	switchOK(t, ModeDirect, []Entry{v4Entry}, "kernel direct, delete IPv4",
		"map path set to direct\ndeleted the map-mode rule for IPv4: iptables -t raw -D PREROUTING -j DADDR --map")

	// An old module refuses: nothing deleted.
	tab, rules, log := newModeFakes(v4Entry)
	rules.have[xtrule.IPv4] = true
	tab.setErr = ErrNoDirect
	if _, err := SwitchMode(context.Background(), tab, rules, ModeDirect); !errors.Is(err, ErrNoDirect) || len(log.calls) != 1 || !rules.have[xtrule.IPv4] {
		t.Errorf("refused direct: %v, calls %v, IPv4 rule kept %v", err, log.calls, rules.have[xtrule.IPv4])
	}
}

// To rule: the rule of each family with entries first, then the kernel;
// a refusal of the kernel takes the appended rules back.
func TestSwitchToRuleRulesFirst(t *testing.T) {
	switchOK(t, ModeRule, []Entry{v4Entry, v6Entry}, "ensure IPv4, ensure IPv6, kernel rule",
		"appended the map-mode rule for IPv6: ip6tables -t raw -A PREROUTING -j DADDR --map\nmap path set to rule")

	tab, rules, log := newModeFakes(v6Entry)
	tab.setErr = errors.New("EPERM")
	_, err := SwitchMode(context.Background(), tab, rules, ModeRule)
	if err == nil || !strings.Contains(err.Error(), "removed again") || rules.have[xtrule.IPv6] {
		t.Errorf("kernel refusal: %v, IPv6 rule left %v", err, rules.have[xtrule.IPv6])
	}
	if got := strings.Join(log.calls, ", "); got != "ensure IPv6, kernel rule, delete IPv6" {
		t.Errorf("calls %q", got)
	}

	// No entries: no rule, only the kernel.
	tab, rules, log = newModeFakes()
	if _, err := SwitchMode(context.Background(), tab, rules, ModeRule); err != nil || strings.Join(log.calls, ",") != "kernel rule" {
		t.Errorf("empty table: %v, calls %v", err, log.calls)
	}
}

func TestSwitchModeRefusals(t *testing.T) {
	tab, rules, log := newModeFakes()
	if _, err := SwitchMode(context.Background(), tab, rules, "fast"); !errors.Is(err, errInvalid) || len(log.calls) != 0 {
		t.Errorf("fast: %v, calls %v", err, log.calls)
	}
	bt := &bpfTable{m: newFakeBPF()}
	if _, err := SwitchMode(context.Background(), bt, rules, ModeDirect); !errors.Is(err, errBPFNoDirect) || len(log.calls) != 0 {
		t.Errorf("bpf: %v, calls %v", err, log.calls)
	}
	bt.m.(*fakeBPF).m[bpfKey{Family: bpfFamily4, DSCP: 1}] = bpfValue{VIP: v4Entry.VIP}
	if _, err := SwitchMode(context.Background(), bt, rules, ModeRule); !errors.Is(err, errBPFNoRule) || len(log.calls) != 0 {
		t.Errorf("bpf to rule: %v, calls %v; want no rule appended", err, log.calls)
	}
}

// A module in direct mode gets no --map rule from an add or a replace,
// and one in rule mode does.
func TestNoRuleInDirectMode(t *testing.T) {
	for _, mode := range []uint8{modeRule, modeDirect} {
		k := newFakeKernel(t)
		k.mode = mode
		c := k.client()
		_, rules, log := newModeFakes()
		added, err := AddWithRule(context.Background(), c, rules, v4Entry, refuseExisting, nil)
		if err != nil {
			t.Fatal(err)
		}
		appended, err := ReplaceWithRules(context.Background(), c, rules, []Entry{v4Entry, v6Entry})
		if err != nil {
			t.Fatal(err)
		}
		want := "ensure IPv4, ensure IPv4, ensure IPv6"
		if mode == modeDirect {
			want = ""
		}
		if got := strings.Join(log.calls, ", "); got != want || added.Rule != (mode == modeRule) || (len(appended) == 1) != (mode == modeRule) {
			t.Errorf("mode %d: rule calls %q (want %q), added %+v, appended %v", mode, got, want, added, appended)
		}
	}
}
