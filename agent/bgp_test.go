package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/bgp"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/metrics"
)

// fakeSpeaker records the calls the agent makes, and when.
type fakeSpeaker struct {
	mu    sync.Mutex
	calls []string
	at    []time.Time
	// failAnnounce fails that many Announce calls.
	failAnnounce int
	started      bgp.Config
}

func (f *fakeSpeaker) record(s string) {
	f.calls = append(f.calls, s)
	f.at = append(f.at, time.Now())
}

func (f *fakeSpeaker) Announce(_ context.Context, vip, nh netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAnnounce > 0 {
		f.failAnnounce--
		return errors.New("gobgp: server not ready")
	}
	f.record(fmt.Sprintf("announce %s via %s", vip, nextHopText(nh)))
	return nil
}

func (f *fakeSpeaker) Withdraw(_ context.Context, vip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("withdraw " + vip.String())
	return nil
}

func (f *fakeSpeaker) Sessions(context.Context) ([]bgp.Session, error) { return nil, nil }

func (f *fakeSpeaker) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("stop")
	return nil
}

// take returns the calls since the last take.
func (f *fakeSpeaker) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls, f.at = nil, nil
	return c
}

type fakeNotifier struct{ sent []string }

func (n *fakeNotifier) notify(s string) error           { n.sent = append(n.sent, s); return nil }
func (n *fakeNotifier) watchdogInterval() time.Duration { return 0 }

// syncBuffer is a log the loop's goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	vipB    = netip.MustParseAddr("10.0.0.2")
	routerB = netip.MustParseAddr("10.1.0.1")
	selfB   = netip.MustParseAddr("10.1.0.11")
)

func bgpConfig(vips ...netip.Addr) config.BGP {
	c := config.BGP{ASN: 65001, RouterID: selfB, ListenPort: -1, NextHop4: selfB,
		Neighbors: []config.BGPNeighbor{{Address: routerB, ASN: 65000, HoldTime: 3 * time.Second}}}
	for _, v := range vips {
		c.Announce = append(c.Announce, config.BGPAnnounce{VIP: v})
	}
	return c
}

// unchecked is a service of VIP vip with one real and no check.
func unchecked(vip netip.Addr) config.Service {
	k := director.Key{VIP: vip, Port: 80, Proto: ipvs.ProtoTCP}
	return config.Service{Service: director.Service{Key: k, Mode: "dscp", DSCP: 22, Scheduler: "mh",
		Reals: []director.Real{{Addr: rip1, Weight: 100, Forward: ipvs.Masquerade}}}}
}

// bgpAgent is an agent over the checked testService (and others) whose
// speaker is a fake, started as run starts it.
func bgpAgent(t *testing.T, c config.BGP, svcs ...config.Service) (*runner, *fakeSpeaker, *syncBuffer) {
	t.Helper()
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	a, _ := newTestAgent(t, fd, svc, "")
	logs := &syncBuffer{}
	a.log = slog.New(slog.NewTextHandler(logs, nil))
	a.reg = metrics.New(metrics.Sources{BGP: true})
	a.file = fileWith(t, append([]config.Service{svc}, svcs...)...)
	a.settings = config.Agent{BGP: &c, RepairInterval: time.Hour}
	sp := &fakeSpeaker{}
	a.o.StartBGP = func(_ context.Context, c bgp.Config) (Speaker, error) {
		sp.started = c
		return sp, nil
	}
	a.o.Notifier = &fakeNotifier{}
	if err := a.startBGP(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, sp, logs
}

// step is one turn of the loop with health events.
func step(a *runner, evs ...health.Event) {
	for _, ev := range evs {
		a.checks.react(context.Background(), ev)
	}
	a.bgp.sync(context.Background())
}

func wantCalls(t *testing.T, sp *fakeSpeaker, want ...string) {
	t.Helper()
	if got := sp.take(); !slices.Equal(got, want) {
		t.Fatalf("speaker calls %q, want %q", got, want)
	}
}

// metricLines are the lines of a scrape of a's metrics that start with
// prefix.
func metricLines(t *testing.T, a *runner, prefix string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var out []string
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestBGPAnnouncesUncheckedReal(t *testing.T) {
	a, sp, logs := bgpAgent(t, bgpConfig(vipB), unchecked(vipB))
	wantCalls(t, sp, "announce 10.0.0.2 via 10.1.0.11")
	want := bgp.Config{ASN: 65001, RouterID: selfB, ListenPort: -1, Log: a.log,
		Neighbors: []bgp.Neighbor{{Address: routerB, ASN: 65000, HoldTime: 3 * time.Second}}}
	if fmt.Sprint(sp.started) != fmt.Sprint(want) {
		t.Errorf("speaker started with %+v, want %+v", sp.started, want)
	}
	if !strings.Contains(logs.String(), `level=INFO msg="announced VIP" vip=10.0.0.2 next_hop=10.1.0.11 reason="a real serves it"`) {
		t.Errorf("log:\n%s", logs)
	}
	st, err := ReadBGPState(filepath.Dir(a.checks.path))
	if err != nil || st.Maintenance || !slices.Equal(st.Announced, []netip.Addr{vipB}) || !st.Live(time.Now()) {
		t.Errorf("bgp.json: %+v %v, want 10.0.0.2 announced, just written", st, err)
	}
	// Nothing changed: nothing is sent again, nor written; the poll
	// writes the record every time, for the CLI to see an agent runs.
	step(a)
	wantCalls(t, sp)
	if again, _ := ReadBGPState(filepath.Dir(a.checks.path)); !again.Updated.Equal(st.Updated) {
		t.Errorf("a sync that changed nothing wrote bgp.json: updated %s, then %s", st.Updated, again.Updated)
	}
	a.bgp.poll(context.Background())
	if again, _ := ReadBGPState(filepath.Dir(a.checks.path)); !again.Updated.After(st.Updated) {
		t.Errorf("the poll did not write bgp.json: updated %s, then %s", st.Updated, again.Updated)
	}
}

// The checked VIP is announced once its reals are seen up, withdrawn when
// the last one goes down and announced again when one comes back.
func TestBGPFollowsHealth(t *testing.T) {
	a, sp, logs := bgpAgent(t, bgpConfig(svcKey.VIP))
	// Not yet probed: no evidence, no route.
	wantCalls(t, sp)
	first := health.Event{ID: realID(svcKey, rip1), State: health.Up, Result: health.Result{OK: true}}
	step(a, first)
	wantCalls(t, sp, "announce 10.0.0.1 via 10.1.0.11")
	step(a, event(rip1, health.Down))
	wantCalls(t, sp, "withdraw 10.0.0.1")
	if !strings.Contains(logs.String(), `level=INFO msg="withdrew VIP" vip=10.0.0.1 reason="no real serves it"`) {
		t.Errorf("log:\n%s", logs)
	}
	// rip2 was never probed: still nothing.
	step(a)
	wantCalls(t, sp)
	step(a, event(rip2, health.Up))
	wantCalls(t, sp, "announce 10.0.0.1 via 10.1.0.11")
	step(a, event(rip1, health.Up), event(rip2, health.Down))
	wantCalls(t, sp)
	want := `l3dsr_bgp_route_changes_total{change="announce",vip="10.0.0.1"} 2
l3dsr_bgp_route_changes_total{change="withdraw",vip="10.0.0.1"} 1
l3dsr_bgp_route_errors_total 0
l3dsr_bgp_vip_announced{vip="10.0.0.1"} 1`
	if got := metricLines(t, a, "l3dsr_bgp_r") + "\n" + metricLines(t, a, "l3dsr_bgp_vip"); got != want {
		t.Errorf("metrics:\n%s\nwant:\n%s", got, want)
	}
}

func TestBGPMaintenance(t *testing.T) {
	a, sp, logs := bgpAgent(t, bgpConfig(vipB), unchecked(vipB))
	dir := filepath.Dir(a.checks.path)
	wantCalls(t, sp, "announce 10.0.0.2 via 10.1.0.11")
	if err := SetMaintenance(dir, true); err != nil {
		t.Fatal(err)
	}
	a.bgp.poll(context.Background())
	wantCalls(t, sp, "withdraw 10.0.0.2")
	if !strings.Contains(logs.String(), `msg="withdrew VIP" vip=10.0.0.2 reason=maintenance`) {
		t.Errorf("log:\n%s", logs)
	}
	st, err := ReadBGPState(dir)
	if err != nil || !st.Maintenance || len(st.Announced) != 0 {
		t.Errorf("bgp.json in maintenance: %+v %v", st, err)
	}
	if err := WaitWithdrawn(context.Background(), dir, time.Second); err != nil {
		t.Errorf("WaitWithdrawn: %v", err)
	}
	if got := metricLines(t, a, "l3dsr_bgp_maintenance "); got != "l3dsr_bgp_maintenance 1" {
		t.Errorf("metrics: %q", got)
	}
	// A real's change in maintenance announces nothing.
	step(a)
	wantCalls(t, sp)
	if err := SetMaintenance(dir, false); err != nil {
		t.Fatal(err)
	}
	a.bgp.poll(context.Background())
	wantCalls(t, sp, "announce 10.0.0.2 via 10.1.0.11")
}

// The loop polls the flag: a withdraw follows within a second or so.
func TestBGPMaintenanceThroughLoop(t *testing.T) {
	a, sp, _ := bgpAgent(t, bgpConfig(vipB), unchecked(vipB))
	wantCalls(t, sp, "announce 10.0.0.2 via 10.1.0.11")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.loop(ctx, nil) }()
	if err := SetMaintenance(filepath.Dir(a.checks.path), true); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := WaitWithdrawn(context.Background(), filepath.Dir(a.checks.path), 3*time.Second)
	took := time.Since(start)
	cancel()
	<-done
	if err != nil || took > maintenancePoll+500*time.Millisecond {
		t.Fatalf("withdrawn after %s: %v, want within one poll (%s)", took, err, maintenancePoll)
	}
	wantCalls(t, sp, "withdraw 10.0.0.2")
}

func TestBGPStop(t *testing.T) {
	c := bgpConfig(vipB)
	c.WithdrawDelay = 150 * time.Millisecond
	a, sp, _ := bgpAgent(t, c, unchecked(vipB))
	sp.take()
	a.stopBGP()
	sp.mu.Lock()
	calls, at := sp.calls, sp.at
	sp.mu.Unlock()
	if !slices.Equal(calls, []string{"withdraw 10.0.0.2", "stop"}) {
		t.Fatalf("calls at the stop %q, want the withdraw, then the stop", calls)
	}
	if d := at[1].Sub(at[0]); d < c.WithdrawDelay {
		t.Errorf("the sessions were closed %s after the withdraw, want at least withdraw_delay %s", d, c.WithdrawDelay)
	}
	if n := a.o.Notifier.(*fakeNotifier).sent; !slices.Equal(n, []string{"STATUS=withdrawn; forwarding for 150ms"}) {
		t.Errorf("systemd was told %q", n)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(a.checks.path), "bgp.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bgp.json after the stop: %v, want it gone", err)
	}
}

func TestBGPAnnounceRetried(t *testing.T) {
	svc := testService(health.Quiesce)
	a, _ := newTestAgent(t, newFake(svc.Service), svc, "")
	logs := &syncBuffer{}
	a.log = slog.New(slog.NewTextHandler(logs, nil))
	a.reg = metrics.New(metrics.Sources{BGP: true})
	a.file = fileWith(t, svc, unchecked(vipB))
	c := bgpConfig(vipB)
	a.settings = config.Agent{BGP: &c}
	sp := &fakeSpeaker{failAnnounce: 1}
	a.o.StartBGP = func(context.Context, bgp.Config) (Speaker, error) { return sp, nil }
	if err := a.startBGP(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, sp)
	if !strings.Contains(logs.String(), `level=ERROR msg="bgp: announcing VIP; trying again at the next sync" vip=10.0.0.2 next_hop=10.1.0.11 err="gobgp: server not ready"`) {
		t.Errorf("log:\n%s", logs)
	}
	if got := metricLines(t, a, "l3dsr_bgp_route_errors_total"); got != "l3dsr_bgp_route_errors_total 1" {
		t.Errorf("metrics: %q", got)
	}
	if got := metricLines(t, a, "l3dsr_agent_errors_total"); got != "l3dsr_agent_errors_total 1" {
		t.Errorf("metrics: %q", got)
	}
	step(a)
	wantCalls(t, sp, "announce 10.0.0.2 via 10.1.0.11")
}

func TestBGPReload(t *testing.T) {
	vipC := netip.MustParseAddr("2001:db8::10")
	c := bgpConfig(vipB, vipC)
	c.NextHop6 = netip.MustParseAddr("2001:db8:1::11")
	a, sp, logs := bgpAgent(t, c, unchecked(vipB), unchecked(vipC))
	wantCalls(t, sp, "announce 10.0.0.2 via 10.1.0.11", "announce 2001:db8::10 via 2001:db8:1::11")

	// vipC leaves the list, vipB gets its own next hop, and the ASN
	// changes, which only a restart does.
	next := bgpConfig(vipB)
	next.Announce[0].NextHop = netip.MustParseAddr("10.1.0.12")
	next.ASN = 65002
	got := a.reloadBGP(context.Background(), &next)
	wantCalls(t, sp, "withdraw 2001:db8::10", "announce 10.0.0.2 via 10.1.0.12")
	if got.ASN != 65001 || len(got.Announce) != 1 {
		t.Errorf("running section after the reload: ASN %d, %d VIPs; want 65001 and 1", got.ASN, len(got.Announce))
	}
	for _, want := range []string{
		`level=WARN msg="reload: the BGP asn change only at a restart; the speaker keeps the running ones"`,
		`level=INFO msg="withdrew VIP" vip=2001:db8::10 reason="removed from the file"`,
		`level=INFO msg="announced VIP" vip=10.0.0.2 next_hop=10.1.0.12 reason="its next hop changed"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %s:\n%s", want, logs)
		}
	}
	if got := metricLines(t, a, "l3dsr_bgp_vip_announced"); got != `l3dsr_bgp_vip_announced{vip="10.0.0.2"} 1` {
		t.Errorf("metrics after the reload: %q", got)
	}
	// The same section again: no warning, no call.
	before := strings.Count(logs.String(), "level=WARN")
	same := next
	same.ASN = 65001
	a.reloadBGP(context.Background(), &same)
	wantCalls(t, sp)
	if strings.Count(logs.String(), "level=WARN") != before {
		t.Errorf("a reload with nothing changed warned:\n%s", logs)
	}
	// A VIP that leaves the list while withdrawn leaves the metrics too.
	if err := SetMaintenance(filepath.Dir(a.checks.path), true); err != nil {
		t.Fatal(err)
	}
	a.bgp.poll(context.Background())
	wantCalls(t, sp, "withdraw 10.0.0.2")
	none := bgpConfig()
	a.reloadBGP(context.Background(), &none)
	if got := metricLines(t, a, "l3dsr_bgp_vip_announced"); got != "" {
		t.Errorf("metrics after the last VIP left the file: %q", got)
	}
}

func TestWaitWithdrawnTimeout(t *testing.T) {
	dir := t.TempDir()
	s := BGPState{Maintenance: true, Announced: []netip.Addr{vipB, netip.MustParseAddr("192.0.2.10")}, Updated: time.Now()}
	if err := writeBGPState(dir, s); err != nil {
		t.Fatal(err)
	}
	err := WaitWithdrawn(context.Background(), dir, 50*time.Millisecond)
	want := "after 50ms the agent still announces 10.0.0.2, 192.0.2.10: see its log (journalctl -u l3dsr-agent) for the BGP speaker's errors, or wait longer with --timeout"
	if err == nil || err.Error() != want {
		t.Errorf("WaitWithdrawn: %v, want %q", err, want)
	}
	if st, err := ReadBGPState(t.TempDir()); err != nil || st.Live(time.Now()) || st.Announced != nil {
		t.Errorf("no record: %+v %v, want the zero state", st, err)
	}
}

// A record from before a restart that says a real is up is no evidence:
// the VIP waits for the first probe of this run.
func TestBGPNotOnOldRecord(t *testing.T) {
	state := filepath.Join(t.TempDir(), "agent.json")
	svc := testService(health.Quiesce)
	fd := newFake(svc.Service)
	_, c := newTestAgent(t, fd, svc, state)
	c.react(context.Background(), event(rip1, health.Down))
	c.react(context.Background(), event(rip1, health.Up))
	c.close()

	a, c2 := newTestAgent(t, fd, svc, state)
	if r, ok := c2.reals[realID(svcKey, rip1)]; !ok || !r.Up {
		t.Fatalf("the record brought over %+v (%v), want rip1 up", r, ok)
	}
	a.file = fileWith(t, svc)
	cfg := bgpConfig(svcKey.VIP)
	a.settings = config.Agent{BGP: &cfg}
	sp := &fakeSpeaker{}
	a.o.StartBGP = func(context.Context, bgp.Config) (Speaker, error) { return sp, nil }
	if err := a.startBGP(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, sp)
	step(a, health.Event{ID: realID(svcKey, rip1), State: health.Up, Result: health.Result{OK: true}})
	wantCalls(t, sp, "announce 10.0.0.1 via 10.1.0.11")
}

// The loop syncs after each batch of health results.
func TestBGPHealthThroughLoop(t *testing.T) {
	a, sp, _ := bgpAgent(t, bgpConfig(svcKey.VIP))
	wantCalls(t, sp)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.loop(ctx, nil) }()
	a.events.push(health.Event{ID: realID(svcKey, rip1), State: health.Up, Result: health.Result{OK: true}})
	deadline := time.Now().Add(500 * time.Millisecond)
	var got []string
	for time.Now().Before(deadline) && len(got) == 0 {
		time.Sleep(10 * time.Millisecond)
		sp.mu.Lock()
		got = slices.Clone(sp.calls)
		sp.mu.Unlock()
	}
	cancel()
	<-done
	if !slices.Equal(got, []string{"announce 10.0.0.1 via 10.1.0.11"}) {
		t.Fatalf("speaker calls after a real's first good probe %q, want the announce at once", got)
	}
}

// A VIP whose only real the file gives weight 0 takes no new flow: it is
// not announced.
func TestBGPWeightZeroDoesNotServe(t *testing.T) {
	svc := unchecked(vipB)
	svc.Service.Reals[0].Weight = 0
	_, sp, _ := bgpAgent(t, bgpConfig(vipB), svc)
	wantCalls(t, sp)
}

// A neighbor's BFD reaches the speaker with its timers.
func TestSpeakerConfigBFD(t *testing.T) {
	c := bgpConfig(vipB)
	c.Neighbors[0].BFD = &config.BGPBFD{MinTx: 100 * time.Millisecond, MinRx: 200 * time.Millisecond, Multiplier: 5}
	got := speakerConfig(c, nil).Neighbors[0].BFD
	if got == nil || *got != (bgp.BFD{MinTx: 100 * time.Millisecond, MinRx: 200 * time.Millisecond, Multiplier: 5}) {
		t.Errorf("speaker's BFD: %+v", got)
	}
	if speakerConfig(bgpConfig(vipB), nil).Neighbors[0].BFD != nil {
		t.Error("BFD on without a bfd key")
	}
}
