package metrics

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/maptable"
)

// Sources are where a scrape reads the kernel. Each may be nil (or empty):
// a host without that role has none of its metrics.
type Sources struct {
	// Director reads the IPVS services (director.Director.Show).
	Director func() (director.Status, error)
	// Table reads the DSCP→VIP table's entries and totals.
	Table func() ([]maptable.Entry, maptable.Stats, error)
	// Backend names the table's backend at scrape time ("xt_DADDR" or
	// "bpf", maptable.BackendName), shown as l3dsr_backend_info.
	Backend func() string
	// BGP and ICMPRelay are the agent's BGP speaker and ICMP relay: a
	// host without them shows none of their metrics (a real server with
	// an l3dsr_bgp_maintenance 0 would only puzzle).
	BGP, ICMPRelay bool
	// Log receives the errors of a scrape (a source that failed); nil
	// drops them, and l3dsr_scrape_errors_total still counts them.
	Log *slog.Logger
}

// Registry holds every l3dsr metric and the Go and process collectors.
type Registry struct {
	// Health is what the checks report, as they run.
	Health *Health
	// Agent counts the agent's applies, repairs and errors.
	Agent *Agent
	// BGP is what the agent announces and its sessions, and ICMP what its
	// relay did; both are there (and do nothing) on a host without them.
	BGP  *BGP
	ICMP *ICMP

	reg *prometheus.Registry
	log *slog.Logger
}

// New registers the kernel's collectors for src, Health, Agent, BGP and
// ICMP when src has them, and Go's and the process's own metrics.
func New(src Sources) *Registry {
	r := &Registry{
		Health: newHealth(),
		Agent:  newAgent(),
		BGP:    newBGP(),
		ICMP:   newICMP(),
		reg:    prometheus.NewRegistry(),
		log:    src.Log,
	}
	r.reg.MustRegister(newKernelCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.reg.MustRegister(r.Health.collectors()...)
	r.reg.MustRegister(r.Agent.collectors()...)
	if src.BGP {
		r.reg.MustRegister(r.BGP.collectors()...)
	}
	if src.ICMPRelay {
		r.reg.MustRegister(r.ICMP.collectors()...)
	}
	return r
}

// Handler serves the exposition. A source that fails does not fail the
// scrape: its metrics are left out, the others are served, and the error
// is counted in l3dsr_scrape_errors_total and logged at warning level.
func (r *Registry) Handler() http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	if r.log != nil {
		opts.ErrorLog = slog.NewLogLogger(r.log.Handler(), slog.LevelWarn)
	}
	return promhttp.HandlerFor(r.reg, opts)
}
