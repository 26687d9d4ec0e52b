package metrics

import "github.com/prometheus/client_golang/prometheus"

// Agent counts what the agent does to the host. Its methods are safe for
// concurrent use.
type Agent struct {
	applies *prometheus.CounterVec
	repairs prometheus.Counter
	errors  prometheus.Counter
}

func newAgent() *Agent {
	a := &Agent{
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "l3dsr_agent_applies_total",
			Help: "Applies of the config file (at start and on each reload), by result (ok or error).",
		}, []string{"result"}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "l3dsr_agent_repairs_total",
			Help: "Changes the agent made to repair drift from the config (a VIP, a rule or a mark removed by hand).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "l3dsr_agent_errors_total",
			Help: "Errors the agent logged and carried on past.",
		}),
	}
	// Both results exist from the start, so a first error is an increase
	// from 0 and not a new series that rate() cannot see.
	a.applies.WithLabelValues("ok")
	a.applies.WithLabelValues("error")
	return a
}

func (a *Agent) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.applies, a.repairs, a.errors}
}

// Applied counts one apply of the config, failed when err is not nil.
func (a *Agent) Applied(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	a.applies.WithLabelValues(result).Inc()
}

// Repaired counts n changes made to repair drift.
func (a *Agent) Repaired(n int) {
	if n > 0 {
		a.repairs.Add(float64(n))
	}
}

// Error counts one error the agent carried on past.
func (a *Agent) Error() { a.errors.Inc() }
