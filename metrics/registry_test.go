package metrics

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/maptable"
)

// scrape serves one GET /metrics from r and returns the status and body.
func scrape(t testing.TB, r *Registry) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Code, string(body)
}

// collectHist returns the lines of a scrape of r of metric name (its
// buckets, sum and count) that contain match.
func collectHist(t *testing.T, r *Registry, name, match string) string {
	t.Helper()
	_, body := scrape(t, r)
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name) && strings.Contains(l, match) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// fillAgent gives every health and agent metric a series.
func fillAgent(r *Registry) {
	at := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	r.Health.Observe(web, web1, 3*time.Millisecond, true)
	r.Health.Observe(web, web2, 2*time.Second, false)
	r.Health.SetState(web, web1, true, at)
	r.Health.SetState(web, web2, false, at.Add(time.Second))
	r.Health.SetSorry(web, false)
	r.Health.Observe(dns, dns1, time.Millisecond, true)
	r.Health.SetState(dns, dns1, true, at)
	r.Agent.Applied(nil)
	r.Agent.Repaired(2)
	r.Agent.Error()
}

// TestLint: promlint finds nothing in the whole exposition: the kernel's
// metrics, health, the agent's, Go's and the process's.
func TestLint(t *testing.T) {
	r := New(fakeSources())
	fillAgent(r)
	problems, err := testutil.GatherAndLint(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	code, body := scrape(t, r)
	for _, want := range []string{"l3dsr_ipvs_real_weight{", "l3dsr_map_entries 2", "l3dsr_health_up{", "go_goroutines ", "l3dsr_agent_repairs_total 2"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("scrape: status %d, want 200 and a body with %q:\n%s", code, want, body)
		}
	}
}

// TestFailingSource: a director that cannot be read fails its own metrics,
// not the scrape: Gather returns its error, the handler serves the table's
// metrics and the error count, and logs the error.
func TestFailingSource(t *testing.T) {
	var logged bytes.Buffer
	src := fakeSources()
	src.Director = func() (director.Status, error) {
		return director.Status{}, errors.New("netlink: operation not permitted")
	}
	src.Log = slog.New(slog.NewTextHandler(&logged, nil))
	r := New(src)

	mfs, err := r.reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "reading the director's IPVS services: netlink: operation not permitted") {
		t.Errorf("Gather's error is %v, want the director's read error", err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if !names["l3dsr_map_entries"] || names["l3dsr_ipvs_real_weight"] {
		t.Errorf("Gather with a failing director gave %v, want the table's metrics and none of the director's", names)
	}

	code, body := scrape(t, r)
	if code != http.StatusOK {
		t.Errorf("a scrape with a failing source answered %d, want 200", code)
	}
	for _, want := range []string{`l3dsr_scrape_errors_total{source="director"} 2`, `l3dsr_scrape_errors_total{source="table"} 0`, "l3dsr_map_entries 2"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape body lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(logged.String(), "operation not permitted") {
		t.Errorf("the handler logged %q, want the director's error", logged.String())
	}
}

const healthText = `
# HELP l3dsr_health_up 1 when the real server's health checks say up (rise passed in a row), 0 when down (fall failed in a row).
# TYPE l3dsr_health_up gauge
l3dsr_health_up{port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 1
l3dsr_health_up{port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 0
l3dsr_health_up{port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 1
# HELP l3dsr_health_last_change_timestamp_seconds When the real server's health state last changed, in seconds since the Unix epoch.
# TYPE l3dsr_health_last_change_timestamp_seconds gauge
l3dsr_health_last_change_timestamp_seconds{port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 1.7965008e+09
l3dsr_health_last_change_timestamp_seconds{port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 1.796500801e+09
l3dsr_health_last_change_timestamp_seconds{port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 1.7965008e+09
# HELP l3dsr_service_sorry_active 1 while every real of the service is down and its sorry real takes the traffic, else 0.
# TYPE l3dsr_service_sorry_active gauge
l3dsr_service_sorry_active{port="80",proto="tcp",vip="192.0.2.10"} 0
`

// TestHealth: the agent's state and latency series appear with their
// labels, and Forget drops a real's, then a whole service's.
func TestHealth(t *testing.T) {
	r := New(Sources{})
	fillAgent(r)
	h := r.Health
	names := []string{"l3dsr_health_up", "l3dsr_health_last_change_timestamp_seconds", "l3dsr_service_sorry_active"}
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(healthText), names...); err != nil {
		t.Error(err)
	}
	// web2's check took 2 s and failed: above the 1 s bucket, in 2.5 s.
	hist := collectHist(t, r, "l3dsr_health_check_duration_seconds", `real="198.51.100.2"`)
	if !strings.Contains(hist, `result="fail"`) || !strings.Contains(hist, `le="1"} 0`) || !strings.Contains(hist, `le="2.5"} 1`) {
		t.Errorf("web2's histogram is wrong:\n%s", hist)
	}

	h.Forget(web, web2)
	if n := testutil.CollectAndCount(h.up); n != 2 {
		t.Errorf("after forgetting one real %d up series remain, want 2", n)
	}
	if hist := collectHist(t, r, "l3dsr_health_check_duration_seconds", `real="198.51.100.2"`); hist != "" {
		t.Errorf("a forgotten real's histogram remains:\n%s", hist)
	}
	h.Forget(web, web2.Prev().Prev()) // a real never seen: nothing to drop
	h.Forget(web, netip.Addr{})
	for _, c := range []prometheus.Collector{h.duration, h.up, h.changed} {
		if n := testutil.CollectAndCount(c); n != 1 {
			t.Errorf("after forgetting the web service %d series remain in a health metric, want only the dns real's (1)", n)
		}
	}
	if n := testutil.CollectAndCount(h.sorry); n != 0 {
		t.Errorf("the forgotten service's sorry gauge remains")
	}
}

// TestAgent: applies by result, repairs by the changes made, errors.
func TestAgent(t *testing.T) {
	r := New(Sources{})
	a := r.Agent
	a.Applied(nil)
	a.Applied(errors.New("x"))
	a.Applied(nil)
	a.Repaired(3)
	a.Repaired(0)
	a.Error()
	const want = `
# HELP l3dsr_agent_applies_total Applies of the config file (at start and on each reload), by result (ok or error).
# TYPE l3dsr_agent_applies_total counter
l3dsr_agent_applies_total{result="error"} 1
l3dsr_agent_applies_total{result="ok"} 2
# HELP l3dsr_agent_repairs_total Changes the agent made to repair drift from the config (a VIP, a rule or a mark removed by hand).
# TYPE l3dsr_agent_repairs_total counter
l3dsr_agent_repairs_total 3
# HELP l3dsr_agent_errors_total Errors the agent logged and carried on past.
# TYPE l3dsr_agent_errors_total counter
l3dsr_agent_errors_total 1
`
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want),
		"l3dsr_agent_applies_total", "l3dsr_agent_repairs_total", "l3dsr_agent_errors_total"); err != nil {
		t.Error(err)
	}
}

// TestConcurrent: scrapes while the agent reports, for the race detector,
// and overlapping scrapes read the kernel one at a time.
func TestConcurrent(t *testing.T) {
	src := fakeSources()
	var inFlight atomic.Int32
	src.Table = func() ([]maptable.Entry, maptable.Stats, error) {
		defer inFlight.Add(-1)
		if inFlight.Add(1) > 1 {
			t.Error("two scrapes read the table at once: a maptable.Table is not safe for concurrent use")
		}
		time.Sleep(time.Millisecond) // long enough for scrapes to overlap
		e, st := fakeTable()
		return e, st, nil
	}
	r := New(src)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			r.Health.Observe(web, web1, time.Duration(i)*time.Millisecond, i%2 == 0)
			r.Health.SetState(web, web1, i%2 == 0, time.Now())
			r.Agent.Repaired(1)
			if i%50 == 0 {
				r.Health.Forget(web, web1)
			}
		}
	}()
	// Overlapping scrapes too: the kernel's sources are read one at a time.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				rec := httptest.NewRecorder()
				r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
				if rec.Code != http.StatusOK {
					t.Errorf("a scrape during updates answered %d", rec.Code)
				}
			}
		})
	}
	wg.Wait()
	<-done
}
