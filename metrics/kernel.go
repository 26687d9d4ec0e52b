package metrics

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The sources, as l3dsr_scrape_errors_total labels them.
const (
	sourceDirector = "director"
	sourceTable    = "table"
)

// kernelCollector reads Sources at each scrape and hands on what the
// kernel said, as constant metrics.
type kernelCollector struct {
	src      Sources
	director directorDescs
	table    tableDescs
	backend  *prometheus.Desc
	// errors is incremented and collected by Collect itself, so a scrape
	// whose read failed already shows that failure.
	errors *prometheus.CounterVec
	// failed is the errors counter's Desc, which a failed read's invalid
	// metric carries, so that the scrape's error names the counter.
	failed *prometheus.Desc
	// mu makes scrapes read the kernel one at a time: a maptable.Table is
	// not safe for concurrent use, and two overlapping dumps would only
	// double the kernel's work.
	mu sync.Mutex
}

func newKernelCollector(src Sources) *kernelCollector {
	const (
		errName = "l3dsr_scrape_errors_total"
		errHelp = "Scrapes in which reading a source from the kernel failed; that source's metrics were left out."
	)
	c := &kernelCollector{
		src:      src,
		director: newDirectorDescs(),
		table:    newTableDescs(),
		backend: prometheus.NewDesc("l3dsr_backend_info",
			"The DSCP→VIP table's backend in use (always 1).", []string{"backend"}, nil),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: errName, Help: errHelp}, []string{"source"}),
		failed: prometheus.NewDesc(errName, errHelp, []string{"source"}, nil),
	}
	// The series exist from the start, so rate() sees the first error.
	if src.Director != nil {
		c.errors.WithLabelValues(sourceDirector)
	}
	if src.Table != nil {
		c.errors.WithLabelValues(sourceTable)
	}
	return c
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	c.director.describe(ch)
	c.table.describe(ch)
	ch <- c.backend
	c.errors.Describe(ch)
}

func (c *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src.Director != nil {
		st, err := c.src.Director()
		if err != nil {
			c.fail(ch, sourceDirector, fmt.Errorf("reading the director's IPVS services: %w", err))
		} else {
			c.director.collect(ch, st)
		}
	}
	if c.src.Table != nil {
		entries, stats, err := c.src.Table()
		if err != nil {
			c.fail(ch, sourceTable, fmt.Errorf("reading the DSCP→VIP table: %w", err))
		} else {
			c.table.collect(ch, entries, stats)
		}
	}
	if c.src.Backend != nil {
		ch <- prometheus.MustNewConstMetric(c.backend, prometheus.GaugeValue, 1, c.src.Backend())
	}
	c.errors.Collect(ch)
}

// fail counts err against source and hands it to the scrape as an invalid
// metric: the registry's Gather returns it, and the handler logs it and
// serves the rest.
func (c *kernelCollector) fail(ch chan<- prometheus.Metric, source string, err error) {
	c.errors.WithLabelValues(source).Inc()
	ch <- prometheus.NewInvalidMetric(c.failed, err)
}
