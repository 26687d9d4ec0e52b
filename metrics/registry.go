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

	reg *prometheus.Registry
	log *slog.Logger
}

// New registers the kernel's collectors for src, Health, Agent, and Go's
// and the process's own metrics.
func New(src Sources) *Registry {
	r := &Registry{
		Health: newHealth(),
		Agent:  newAgent(),
		reg:    prometheus.NewRegistry(),
		log:    src.Log,
	}
	r.reg.MustRegister(newKernelCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.reg.MustRegister(r.Health.collectors()...)
	r.reg.MustRegister(r.Agent.collectors()...)
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
