package health

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// fake is a Monitor's probe whose result the test sets, that records the
// dialer each probe was given and how many of one real's probes ran at
// once.
type fake struct {
	ok       atomic.Bool
	hold     time.Duration // how long a probe takes
	mu       sync.Mutex
	dialers  map[netip.Addr]*net.Dialer
	inFlight map[netip.Addr]int
	most     int
	calls    int
}

func (f *fake) probe(ctx context.Context, _ Spec, t Target) Result {
	f.mu.Lock()
	f.dialers[t.Real] = t.Dialer
	f.inFlight[t.Real]++
	f.most = max(f.most, f.inFlight[t.Real])
	f.calls++
	f.mu.Unlock()
	select {
	case <-time.After(f.hold):
	case <-ctx.Done():
	}
	f.mu.Lock()
	f.inFlight[t.Real]--
	f.mu.Unlock()
	return Result{OK: f.ok.Load(), At: time.Now()}
}

// newFakeMonitor is a Monitor on f whose events go to the channel it
// returns; the test closes it.
func newFakeMonitor(t *testing.T, f *fake) (*Monitor, <-chan Event) {
	f.dialers, f.inFlight = map[netip.Addr]*net.Dialer{}, map[netip.Addr]int{}
	events := make(chan Event, 1000)
	m := NewMonitor(func(e Event) { events <- e })
	m.probe = f.probe
	t.Cleanup(m.Close)
	return m, events
}

func job(id, real string, fall int) Job {
	return Job{ID: id, Spec: Spec{Kind: KindHTTP, Interval: 20 * time.Millisecond, Rise: 2, Fall: fall, Body: regexp.MustCompile("ok")},
		Target: Target{Service: netip.MustParseAddrPort("10.0.0.1:80"), Real: netip.MustParseAddr(real), Dialer: &net.Dialer{}}}
}

func next(t *testing.T, events <-chan Event, id string) Event {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.ID == id {
				return e
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no event of %s", id)
		}
	}
}

// startOne starts job a of fall, failing, on a new Monitor, and waits
// for its first failure.
func startOne(t *testing.T, fall int) (*fake, *Monitor, <-chan Event, Job) {
	f := &fake{}
	m, events := newFakeMonitor(t, f)
	a := job("a", "192.0.2.1", fall)
	m.Set([]Job{a})
	if e := next(t, events, "a"); e.Result.OK || e.Changed {
		t.Fatalf("the first probe: %+v, want a failure that changes nothing", e)
	}
	return f, m, events, a
}

func TestMonitorReportsTransitions(t *testing.T) {
	f := &fake{}
	m, events := newFakeMonitor(t, f)
	start := time.Now()
	m.Set([]Job{job("a", "192.0.2.1", 2)})
	e := next(t, events, "a")
	if e.State != Up || e.Changed || e.Since.Before(start) || e.Since.After(e.Result.At) {
		t.Fatalf("first failure: %+v, want up, unchanged, since the start", e)
	}
	if e = next(t, events, "a"); e.State != Down || !e.Changed || e.Since != e.Result.At {
		t.Fatalf("second failure: %+v, want down, changed, since now", e)
	}
	f.ok.Store(true)
	if e = next(t, events, "a"); e.State != Down || e.Changed {
		t.Fatalf("first success: %+v, want down, unchanged", e)
	}
	if e = next(t, events, "a"); e.State != Up || !e.Changed {
		t.Fatalf("second success: %+v, want up, changed", e)
	}
}

func TestMonitorReloadKeepsAnUnchangedJob(t *testing.T) {
	f, m, events, a := startOne(t, 3)
	a.Target.Dialer = &net.Dialer{} // a reload's new dialer and regexp, the same check
	a.Spec.Body = regexp.MustCompile(a.Spec.Body.String())
	m.Set([]Job{a})
	if e := next(t, events, "a"); e.Changed {
		t.Fatalf("failure 2 changed the state: %+v", e)
	}
	if e := next(t, events, "a"); !e.Changed || e.State != Down {
		t.Fatalf("failure 3: %+v, want down: the reload forgot the run of failures", e)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dialers[a.Target.Real] != a.Target.Dialer {
		t.Error("the probes after the reload did not use its dialer")
	}
}

func TestMonitorReloadRestartsAChangedJob(t *testing.T) {
	f, m, events, a := startOne(t, 2)
	a.Spec.Path = "/other"
	m.Set([]Job{a})
	if e := next(t, events, "a"); e.Changed {
		t.Fatalf("failure 1 of the changed job changed the state: %+v", e)
	}
	a.Spec.Path = "/again"
	a.Start = Down
	f.ok.Store(true)
	m.Set([]Job{a})
	if e := next(t, events, "a"); e.State != Down || e.Changed {
		t.Fatalf("the first success of a job started down: %+v, want down, unchanged", e)
	}
}

func TestMonitorReloadStopsAJobThatIsGone(t *testing.T) {
	f := &fake{}
	m, events := newFakeMonitor(t, f)
	m.Set([]Job{job("a", "192.0.2.1", 2), job("b", "192.0.2.2", 2)})
	next(t, events, "b")
	m.Set([]Job{job("a", "192.0.2.1", 2)})
	deadline := time.After(200 * time.Millisecond)
	for as := 0; ; {
		select {
		case e := <-events:
			if e.ID == "b" {
				t.Fatalf("an event of a job that is gone: %+v", e)
			}
			as++
		case <-deadline:
			if as == 0 {
				t.Fatal("the job kept stopped too")
			}
			return
		}
	}
}

func TestMonitorRunsTheFirstJobOfAnID(t *testing.T) {
	f := &fake{}
	m, events := newFakeMonitor(t, f)
	a1, a2, a3 := job("a", "192.0.2.1", 2), job("a", "192.0.2.2", 2), job("a", "192.0.2.3", 2)
	m.Set([]Job{a1, a2})
	next(t, events, "a")
	m.Set([]Job{a3, a1}) // a1 runs, but comes second
	next(t, events, "a")
	next(t, events, "a")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dialers[a2.Target.Real] != nil || f.dialers[a3.Target.Real] == nil {
		t.Errorf("probed %v, want 192.0.2.1, then 192.0.2.3", f.dialers)
	}
}

func TestMonitorNeverOverlapsTheProbesOfAJob(t *testing.T) {
	f := &fake{hold: 25 * time.Millisecond} // past the tick: the next probe skips it
	m, _ := newFakeMonitor(t, f)
	m.Set([]Job{job("a", "192.0.2.1", 2)})
	time.Sleep(400 * time.Millisecond)
	m.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.most != 1 {
		t.Errorf("%d probes of one job ran at once", f.most)
	}
	if f.calls < 5 || f.calls > 12 {
		t.Errorf("%d probes in 400ms, each 25ms, every 20ms: want one every 40ms (every other tick), about 10", f.calls)
	}
}

func TestMonitorSpreadsTheFirstProbes(t *testing.T) {
	f := &fake{}
	m, events := newFakeMonitor(t, f)
	interval := 300 * time.Millisecond
	var jobs []Job
	for i := range 20 {
		j := job(string(rune('a'+i)), "192.0.2."+string(rune('1'+i%9)), 2)
		j.Spec.Interval = interval
		jobs = append(jobs, j)
	}
	start := time.Now()
	m.Set(jobs)
	first := map[string]time.Duration{}
	for len(first) < len(jobs) {
		select {
		case e := <-events:
			if _, ok := first[e.ID]; !ok {
				first[e.ID] = e.Result.At.Sub(start)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%d of %d jobs probed", len(first), len(jobs))
		}
	}
	lo, hi := interval, time.Duration(0)
	for _, d := range first {
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi > interval+100*time.Millisecond || hi-lo < interval/4 {
		t.Errorf("first probes from %v to %v after the start, want spread within the interval of %v", lo, hi, interval)
	}
}

func TestMonitorCloseEndsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	f := &fake{hold: time.Hour} // Close must cut the probes short
	m, events := newFakeMonitor(t, f)
	var jobs []Job
	for i := range 50 {
		jobs = append(jobs, job(string(rune('a'+i)), "192.0.2.1", 2))
	}
	m.Set(jobs)
	time.Sleep(50 * time.Millisecond) // past the first probes' offsets
	start := time.Now()
	m.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v", took)
	}
	goroutinesBackTo(t, before)
	if len(events) != 0 {
		t.Errorf("%d events of probes that Close cut short", len(events))
	}
	m.Set(jobs)
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("Set after Close started %d goroutines", n-before)
	}
}

// TestMonitorWithProbes runs real probes of every kind: they pass, a real
// that stops listening goes down, and Close leaves no goroutine of theirs
// behind.
func TestMonitorWithProbes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	httpAP, _ := httpServer(t, "127.0.0.1", false, status(200, "ok"))
	httpsAP, _ := httpServer(t, "::1", true, status(200, "ok"))
	dnsAP, _ := dnsServer(t, "127.0.0.1", 0, false)
	every := Spec{Interval: 200 * time.Millisecond, Fall: 2} // a TLS handshake under -race takes tens of ms
	jobs := []Job{
		{ID: string(KindTCP), Target: targetOf(addrPort(t, l.Addr()), ipvs.ProtoTCP)},
		{ID: string(KindHTTP), Target: targetOf(httpAP, ipvs.ProtoTCP)},
		{ID: string(KindHTTPS), Target: targetOf(httpsAP, ipvs.ProtoTCP)},
		{ID: string(KindDNS), Target: targetOf(dnsAP, ipvs.ProtoUDP)},
		{ID: string(KindExec), Target: execTarget, Spec: Spec{Command: []string{"true"}}},
	}
	before := runtime.NumGoroutine()
	events := make(chan Event, 1000)
	m := NewMonitor(func(e Event) { events <- e })
	for i := range jobs {
		jobs[i].Spec.Kind, jobs[i].Spec.Interval, jobs[i].Spec.Fall = Kind(jobs[i].ID), every.Interval, every.Fall
	}
	m.Set(jobs)
	for _, j := range jobs {
		if e := next(t, events, j.ID); !e.Result.OK || e.State != Up {
			t.Errorf("%s: %+v, want up", j.ID, e)
		}
	}
	l.Close()
	e := next(t, events, "tcp")
	for !e.Changed { // past the probes begun before the close
		e = next(t, events, "tcp")
	}
	if e.State != Down || e.Result.Err == nil {
		t.Errorf("%+v, want down with the reason", e)
	}
	m.Close()
	goroutinesBackTo(t, before)
}

// goroutinesBackTo waits a second at most for the goroutines to be as
// few as before: one whose done channel is closed is still running for a
// moment.
func goroutinesBackTo(t *testing.T, before int) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before the Monitor", runtime.NumGoroutine(), before)
		}
	}
}

func TestNextTick(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct{ now, want time.Duration }{
		{5, 10}, {0, 10}, {10, 20}, {25, 30}, {31, 40},
	} {
		if got := nextTick(t0, 10, t0.Add(c.now)).Sub(t0); got != c.want {
			t.Errorf("nextTick(0, 10, %d) = %d, want %d", c.now, got, c.want)
		}
	}
}
