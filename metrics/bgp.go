package metrics

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l3dsr/l3dsr/internal/bgp"
)

// bgpStates are the BGP FSM's states as bgp.Session names them: every one
// has a series per neighbor, 1 for the current, so that an alert on
// state="established" == 0 needs no absent().
var bgpStates = []string{"idle", "connect", "active", "opensent", "openconfirm", "established"}

// BGP is what the agent's BGP speaker announces and how its sessions are.
// The routes are set by the agent as it changes them; the sessions are
// read at each scrape. Its methods are safe for concurrent use.
type BGP struct {
	announced *prometheus.GaugeVec
	changes   *prometheus.CounterVec
	maint     prometheus.Gauge
	errors    prometheus.Counter
	sessions  *sessionCollector
}

func newBGP() *BGP {
	return &BGP{
		announced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "l3dsr_bgp_vip_announced",
			Help: "1 while the VIP is announced to the BGP neighbors, 0 while it is withdrawn.",
		}, []string{"vip"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "l3dsr_bgp_route_changes_total",
			Help: "Announcements and withdrawals of each VIP (change: announce or withdraw).",
		}, []string{"vip", "change"}),
		maint: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "l3dsr_bgp_maintenance",
			Help: "1 while the director is in maintenance ('l3dsr director maintenance on'): every VIP is withdrawn.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "l3dsr_bgp_route_errors_total",
			Help: "Announcements and withdrawals the BGP speaker refused; each is tried again at the next sync.",
		}),
		sessions: newSessionCollector(),
	}
}

func (b *BGP) collectors() []prometheus.Collector {
	return []prometheus.Collector{b.announced, b.changes, b.maint, b.errors, b.sessions}
}

// Changed records that vip was announced (true) or withdrawn (false).
func (b *BGP) Changed(vip netip.Addr, announced bool) {
	change := "withdraw"
	if announced {
		change = "announce"
	}
	b.announced.WithLabelValues(vip.String()).Set(boolValue(announced))
	b.changes.WithLabelValues(vip.String(), change).Inc()
}

// Track gives vip its series at 0 (withdrawn), before any change: a VIP
// that was never announced shows as such, not as no series at all.
func (b *BGP) Track(vip netip.Addr) {
	b.announced.WithLabelValues(vip.String())
	b.changes.WithLabelValues(vip.String(), "announce")
	b.changes.WithLabelValues(vip.String(), "withdraw")
}

// Forget drops vip's series, when it leaves the file's announce list.
func (b *BGP) Forget(vip netip.Addr) {
	labels := prometheus.Labels{"vip": vip.String()}
	b.announced.DeletePartialMatch(labels)
	b.changes.DeletePartialMatch(labels)
}

// SetMaintenance records whether the director is in maintenance.
func (b *BGP) SetMaintenance(on bool) { b.maint.Set(boolValue(on)) }

// RouteError counts one announcement or withdrawal that failed.
func (b *BGP) RouteError() { b.errors.Inc() }

// SetSessions gives the function a scrape reads the sessions with; until
// it is set no session metric is shown.
func (b *BGP) SetSessions(read func() ([]bgp.Session, error)) {
	b.sessions.mu.Lock()
	defer b.sessions.mu.Unlock()
	b.sessions.read = read
}

// sessionCollector reads the speaker's sessions at each scrape and hands
// them on as constant metrics: the speaker keeps the counts, not us.
type sessionCollector struct {
	mu       sync.Mutex
	read     func() ([]bgp.Session, error)
	now      func() time.Time // tests fix it
	up       *prometheus.Desc
	state    *prometheus.Desc
	uptime   *prometheus.Desc
	trans    *prometheus.Desc
	sent     *prometheus.Desc
	received *prometheus.Desc
}

func newSessionCollector() *sessionCollector {
	n := []string{"neighbor"}
	return &sessionCollector{
		now: time.Now,
		up: prometheus.NewDesc("l3dsr_bgp_session_up",
			"1 while the BGP session with the neighbor is established.", n, nil),
		state: prometheus.NewDesc("l3dsr_bgp_session_state",
			"The BGP session's FSM state: 1 for the current one, 0 for the others.", []string{"neighbor", "state"}, nil),
		uptime: prometheus.NewDesc("l3dsr_bgp_session_uptime_seconds",
			"How long the BGP session has been established; 0 while it is not.", n, nil),
		trans: prometheus.NewDesc("l3dsr_bgp_session_transitions_total",
			"Times the BGP session became established since the agent started.", n, nil),
		sent: prometheus.NewDesc("l3dsr_bgp_updates_sent_total",
			"BGP UPDATE messages sent to the neighbor.", n, nil),
		received: prometheus.NewDesc("l3dsr_bgp_updates_received_total",
			"BGP UPDATE messages received from the neighbor.", n, nil),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.state, c.uptime, c.trans, c.sent, c.received} {
		ch <- d
	}
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	read, now := c.read, c.now
	c.mu.Unlock()
	if read == nil {
		return
	}
	ss, err := read()
	if err != nil {
		// The handler logs it and serves the rest (ContinueOnError).
		ch <- prometheus.NewInvalidMetric(c.up, fmt.Errorf("reading the BGP sessions: %w", err))
		return
	}
	for _, s := range ss {
		n := s.Neighbor.String()
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolValue(s.Up), n)
		for _, st := range bgpStates {
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, boolValue(st == s.State), n, st)
		}
		uptime := 0.0
		if s.Up && !s.Since.IsZero() {
			uptime = now().Sub(s.Since).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, uptime, n)
		ch <- prometheus.MustNewConstMetric(c.trans, prometheus.CounterValue, float64(s.Transitions), n)
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(s.UpdatesSent), n)
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(s.UpdatesReceived), n)
	}
}
