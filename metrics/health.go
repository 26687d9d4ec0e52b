package metrics

import (
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l3dsr/l3dsr/director"
)

// Health is the health checks' state, set by the agent as checks run (a
// scrape does not probe anything). Its methods are safe for concurrent use.
type Health struct {
	duration *prometheus.HistogramVec
	up       *prometheus.GaugeVec
	changed  *prometheus.GaugeVec
	sorry    *prometheus.GaugeVec
}

// checkBuckets span a probe's life: 1 ms (a TCP connect on the director's
// link) to 10 s (the longest timeout worth having at a 1 s..30 s interval).
var checkBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newHealth() *Health {
	return &Health{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "l3dsr_health_check_duration_seconds",
			Help:    "How long each health check of a real server took, by its result (ok or fail).",
			Buckets: checkBuckets,
		}, with(realLabels, "result")),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "l3dsr_health_up",
			Help: "1 when the real server's health checks say up (rise passed in a row), 0 when down (fall failed in a row).",
		}, realLabels),
		changed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "l3dsr_health_last_change_timestamp_seconds",
			Help: "When the real server's health state last changed, in seconds since the Unix epoch.",
		}, realLabels),
		sorry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "l3dsr_service_sorry_active",
			Help: "1 while every real of the service is down and its sorry real takes the traffic, else 0.",
		}, serviceLabels),
	}
}

func (h *Health) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.duration, h.up, h.changed, h.sorry}
}

// Observe records one check of real in service svc: how long it took and
// whether it passed.
func (h *Health) Observe(svc director.Key, real netip.Addr, latency time.Duration, ok bool) {
	result := "fail"
	if ok {
		result = "ok"
	}
	h.duration.WithLabelValues(with(realValues(svc, real), result)...).Observe(latency.Seconds())
}

// SetState records real's state and since when it holds. A zero since
// leaves the time of the last change as it was (a state the agent started
// with, not one it saw change).
func (h *Health) SetState(svc director.Key, real netip.Addr, up bool, since time.Time) {
	v := realValues(svc, real)
	h.up.WithLabelValues(v...).Set(boolValue(up))
	if !since.IsZero() {
		h.changed.WithLabelValues(v...).Set(float64(since.UnixNano()) / 1e9)
	}
}

// Forget drops every series of real in svc, when the real leaves the
// config: a series of a real that is gone would say it is still up or
// down. The zero real forgets the whole service, its sorry gauge
// included.
func (h *Health) Forget(svc director.Key, real netip.Addr) {
	labels := prometheus.Labels{}
	for i, v := range serviceValues(svc) {
		labels[serviceLabels[i]] = v
	}
	if real.IsValid() {
		labels["real"] = real.String()
	} else {
		h.sorry.DeletePartialMatch(labels)
	}
	h.duration.DeletePartialMatch(labels)
	h.up.DeletePartialMatch(labels)
	h.changed.DeletePartialMatch(labels)
}

// SetSorry records whether svc's sorry real is taking its traffic.
func (h *Health) SetSorry(svc director.Key, active bool) {
	h.sorry.WithLabelValues(serviceValues(svc)...).Set(boolValue(active))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
