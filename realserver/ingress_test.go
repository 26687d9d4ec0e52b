package realserver

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// shapes emulates the map-mode rules with their shapes (xtrule.Rules):
// per family, the interface of each rule, "" for the unlimited one.
type shapes struct {
	rules map[xtrule.Family][]string
	log   []string
}

type shapedRules struct {
	s   *shapes
	ing Ingress
}

func (r shapedRules) shape() []string {
	if len(r.ing) == 0 {
		return []string{""}
	}
	return r.ing
}

func (r shapedRules) do(f xtrule.Family, op, iface string) {
	if iface == "" {
		iface = "any"
	}
	r.s.log = append(r.s.log, f.String()+" "+op+" "+iface)
}

func (r shapedRules) Exists(_ context.Context, f xtrule.Family) (bool, error) {
	return len(r.s.rules[f]) > 0, nil
}

func (r shapedRules) appendMissing(f xtrule.Family) bool {
	added := false
	for _, i := range r.shape() {
		if !slices.Contains(r.s.rules[f], i) {
			r.s.rules[f] = append(r.s.rules[f], i)
			r.do(f, "-A", i)
			added = true
		}
	}
	return added
}

func (r shapedRules) Ensure(_ context.Context, f xtrule.Family) (bool, error) {
	if len(r.ing) == 0 && len(r.s.rules[f]) > 0 {
		return false, nil
	}
	return r.appendMissing(f), nil
}

func (r shapedRules) remove(f xtrule.Family, gone func(string) bool) bool {
	n := len(r.s.rules[f])
	r.s.rules[f] = slices.DeleteFunc(r.s.rules[f], func(i string) bool {
		if gone(i) {
			r.do(f, "-D", i)
			return true
		}
		return false
	})
	return len(r.s.rules[f]) < n
}

func (r shapedRules) Delete(_ context.Context, f xtrule.Family) error {
	r.remove(f, func(i string) bool { return slices.Contains(r.shape(), i) })
	return nil
}

func (r shapedRules) Reshape(_ context.Context, f xtrule.Family) (bool, error) {
	added := r.appendMissing(f)
	removed := r.remove(f, func(i string) bool { return !slices.Contains(r.shape(), i) })
	return added || removed, nil
}

func ingressServer(t *testing.T) (*fakeSys, *Manager, *shapes) {
	f := newFakeSys()
	f.addLink("eth1", "veth", 1500)
	m := f.manager(t)
	s := &shapes{rules: map[xtrule.Family][]string{}}
	m.newRules = func(_ xtrule.Variant, ing Ingress) Rules { return shapedRules{s, ing} }
	return f, m, s
}

func ing(names ...string) *Ingress { i := Ingress(names); return &i }

// limitedServer is ingressServer with VIP 10.0.0.1 up, limited to eth0.
func limitedServer(t *testing.T) (*fakeSys, *Manager, *shapes) {
	f, m, s := ingressServer(t)
	if _, err := m.UpIngress(context.Background(), dscpVIP("10.0.0.1", 21), xtrule.Default, ing("eth0")); err != nil {
		t.Fatal(err)
	}
	s.log = nil
	return f, m, s
}

func wantLog(t *testing.T, s *shapes, want ...string) {
	t.Helper()
	if !slices.Equal(s.log, want) {
		t.Errorf("rule changes %q, want %q", s.log, want)
	}
	s.log = nil
}

func TestUpIngress(t *testing.T) {
	ctx := context.Background()
	_, m, s := ingressServer(t)
	a, err := m.UpIngress(ctx, dscpVIP("10.0.0.1", 21), xtrule.Default, ing("eth0"))
	if err != nil {
		t.Fatal(err)
	}
	// No rule yet: the limited one is the first (never an unlimited one).
	wantLog(t, s, "IPv4 -A eth0")
	if rep, err := m.Show(ctx, xtrule.Default); err != nil || rep.Ingress.String() != "eth0" {
		t.Errorf("Show: ingress %q, %v", rep.Ingress, err)
	}
	if !slices.ContainsFunc(a.Changes, func(c string) bool { return strings.HasPrefix(c, "appended the map-mode rule for IPv4") }) {
		t.Errorf("changes %q", a.Changes)
	}

	// A second list: the new rule in before the old one goes.
	if _, err := m.UpIngress(ctx, dscpVIP("10.0.0.2", 22), xtrule.Default, ing("eth1")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, "IPv4 -A eth1", "IPv4 -D eth0")
	// Plain up keeps the list.
	if _, err := m.Up(ctx, dscpVIP("2001:db8::1", 23), xtrule.Default); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, "IPv6 -A eth1")
	// Back to any interface: both families.
	a, err = m.UpIngress(ctx, dscpVIP("10.0.0.2", 22), xtrule.Default, ing())
	if err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, "IPv4 -A any", "IPv4 -D eth1", "IPv6 -A any", "IPv6 -D eth1")
	if !slices.Contains(a.Changes, "limited the IPv4 map-mode rule to ingress any (was eth1)") {
		t.Errorf("changes %q", a.Changes)
	}
	if _, err := m.UpIngress(ctx, dscpVIP("10.0.0.2", 22), xtrule.Default, ing("eth0", "eth1")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, "IPv4 -A eth0", "IPv4 -A eth1", "IPv4 -D any", "IPv6 -A eth0", "IPv6 -A eth1", "IPv6 -D any")

	// Down of the last VIP of a family removes all its rules.
	for _, vip := range []string{"10.0.0.1", "10.0.0.2"} {
		if _, err := m.Down(ctx, netip.MustParseAddr(vip)); err != nil {
			t.Fatal(err)
		}
	}
	wantLog(t, s, "IPv4 -D eth0", "IPv4 -D eth1")
	if len(s.rules[xtrule.IPv4]) != 0 || len(s.rules[xtrule.IPv6]) != 2 {
		t.Errorf("rules %v", s.rules)
	}
}

// An interface the host lacks: a usage error naming it, nothing changed.
func TestUpIngressUnknownInterface(t *testing.T) {
	ctx := context.Background()
	f, m, s := limitedServer(t)
	before, state := f.snap(), stateText(m)
	_, err := m.UpIngress(ctx, dscpVIP("10.0.0.2", 22), xtrule.Default, ing("eth0", "eth9"))
	if !errors.Is(err, ErrHostInput) || !strings.Contains(err.Error(), `ingress interface "eth9" does not exist here`) ||
		!strings.Contains(err.Error(), "'ip link'") {
		t.Fatalf("err = %v", err)
	}
	wantLog(t, s)
	sameSnap(t, "after the unknown interface", before, f.snap())
	if after := stateText(m); after != state || !strings.Contains(after, `"eth0"`) {
		t.Errorf("state changed:\n%s", after)
	}
}

// A step after the move that fails moves the rules back.
func TestUpIngressUndone(t *testing.T) {
	ctx := context.Background()
	f, m, s := limitedServer(t)
	f.fail["Add"] = errors.New("boom")
	if _, err := m.UpIngress(ctx, dscpVIP("10.0.0.2", 22), xtrule.Default, ing("eth1")); err == nil {
		t.Fatal("Up succeeded")
	}
	wantLog(t, s, "IPv4 -A eth1", "IPv4 -D eth0", "IPv4 -A eth0", "IPv4 -D eth1")
	st, err := loadState(m.stateDir)
	if err != nil || st.Ingress.String() != "eth0" {
		t.Errorf("state ingress %q, %v", st.Ingress, err)
	}
}

// An unlimited rule beside the limited ones is a problem of show, which up
// with the same list repairs.
func TestShowIngressProblem(t *testing.T) {
	ctx := context.Background()
	_, m, s := limitedServer(t)
	m.readRules = func(context.Context) ([]xtrule.Rule, error) {
		var out []xtrule.Rule
		for f, ifaces := range s.rules {
			for _, i := range ifaces {
				line := "-A PREROUTING -j DADDR --map\n"
				if i != "" {
					line = "-A PREROUTING -i " + i + " -j DADDR --map\n"
				}
				r, err := xtrule.ParseRules(f, xtrule.NFT, "raw", line)
				if err != nil {
					return nil, err
				}
				out = append(out, r...)
			}
		}
		return out, nil
	}
	problems := func() []Problem {
		t.Helper()
		rep, err := m.Show(ctx, xtrule.Default)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Problems
	}
	if p := problems(); len(p) != 0 {
		t.Fatalf("problems with the rules on the list: %+v", p)
	}
	s.rules[xtrule.IPv4] = append(s.rules[xtrule.IPv4], "") // by hand
	p := problems()
	if len(p) != 1 || p[0].What != "the IPv4 map-mode rules look up packets from every interface, not from ingress eth0 alone: coded packets from other interfaces reach the VIPs" ||
		p[0].Fix != "run 'l3dsr realserver up --vip 10.0.0.1 --dscp 21 --ingress eth0' (it puts the rules back on the list)" {
		t.Fatalf("problems %+v", p)
	}
	if _, err := m.UpIngress(ctx, dscpVIP("10.0.0.1", 21), xtrule.Default, ing("eth0")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, "IPv4 -D any")
	if p := problems(); len(p) != 0 {
		t.Errorf("problems after the repair: %+v", p)
	}
}

// In a batch (apply), the move goes through the batch's rule cache and
// lands in the state at Commit.
func TestBatchUpIngress(t *testing.T) {
	ctx := context.Background()
	_, m, s := limitedServer(t)
	b, err := m.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.UpIngress(ctx, dscpVIP("10.0.0.2", 22), xtrule.Default, ing("eth1")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpIngress(ctx, dscpVIP("10.0.0.3", 23), xtrule.Default, ing("eth0", "eth1")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, "IPv4 -A eth1", "IPv4 -D eth0", "IPv4 -A eth0")
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if st, err := loadState(m.stateDir); err != nil || st.Ingress.String() != "eth0,eth1" || len(st.VIPs) != 3 {
		t.Errorf("state: ingress %q, %d VIPs, %v", st.Ingress, len(st.VIPs), err)
	}
}
