package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l3dsr/l3dsr/director"
)

// directorDescs are the IPVS metrics of each service and each real, as
// Show reads them.
type directorDescs struct {
	svcConns, svcPackets, svcBytes       *prometheus.Desc
	realConns, realPackets, realBytes    *prometheus.Desc
	realActive, realInactive, realWeight *prometheus.Desc
}

func newDirectorDescs() directorDescs {
	dir := func(labels []string) []string { return with(labels, "direction") }
	return directorDescs{
		svcConns: prometheus.NewDesc("l3dsr_ipvs_service_connections_total",
			"Connections IPVS scheduled for the service.", serviceLabels, nil),
		svcPackets: prometheus.NewDesc("l3dsr_ipvs_service_packets_total",
			"Packets of the service's connections, in (from clients) and out (replies through the director: none in DSR).", dir(serviceLabels), nil),
		svcBytes: prometheus.NewDesc("l3dsr_ipvs_service_bytes_total",
			"Bytes of the service's connections, in (from clients) and out (replies through the director: none in DSR).", dir(serviceLabels), nil),
		realConns: prometheus.NewDesc("l3dsr_ipvs_real_connections_total",
			"Connections IPVS scheduled to the real server.", realLabels, nil),
		realPackets: prometheus.NewDesc("l3dsr_ipvs_real_packets_total",
			"Packets of the real server's connections, in and out through the director.", dir(realLabels), nil),
		realBytes: prometheus.NewDesc("l3dsr_ipvs_real_bytes_total",
			"Bytes of the real server's connections, in and out through the director.", dir(realLabels), nil),
		realActive: prometheus.NewDesc("l3dsr_ipvs_real_active_connections",
			"The real server's connections IPVS counts as active (TCP established).", realLabels, nil),
		realInactive: prometheus.NewDesc("l3dsr_ipvs_real_inactive_connections",
			"The real server's connections IPVS counts as inactive (any other state, UDP included).", realLabels, nil),
		realWeight: prometheus.NewDesc("l3dsr_ipvs_real_weight",
			"The real server's IPVS weight; 0 is quiescent (a failed check, or a drain).", realLabels, nil),
	}
}

func (d directorDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.svcConns, d.svcPackets, d.svcBytes,
		d.realConns, d.realPackets, d.realBytes, d.realActive, d.realInactive, d.realWeight} {
		ch <- x
	}
}

// collect sends the metrics of every service of st and of its reals.
func (d directorDescs) collect(ch chan<- prometheus.Metric, st director.Status) {
	for _, s := range st.Services {
		sv := serviceValues(s.Key)
		ch <- counter(d.svcConns, s.Stats.Connections, sv...)
		inOut(ch, d.svcPackets, s.Stats.PacketsIn, s.Stats.PacketsOut, sv)
		inOut(ch, d.svcBytes, s.Stats.BytesIn, s.Stats.BytesOut, sv)
		for _, r := range s.Reals {
			d.collectReal(ch, r, realValues(s.Key, r.Addr))
		}
	}
}

func (d directorDescs) collectReal(ch chan<- prometheus.Metric, r director.Real, rv []string) {
	ch <- counter(d.realConns, r.Stats.Connections, rv...)
	inOut(ch, d.realPackets, r.Stats.PacketsIn, r.Stats.PacketsOut, rv)
	inOut(ch, d.realBytes, r.Stats.BytesIn, r.Stats.BytesOut, rv)
	ch <- gauge(d.realActive, float64(r.ActiveConns), rv...)
	ch <- gauge(d.realInactive, float64(r.InactiveConns), rv...)
	ch <- gauge(d.realWeight, float64(r.Weight), rv...)
}

// inOut sends the two directions of one IPVS counter pair.
func inOut(ch chan<- prometheus.Metric, d *prometheus.Desc, in, out uint64, labels []string) {
	ch <- counter(d, in, with(labels, "in")...)
	ch <- counter(d, out, with(labels, "out")...)
}

// counter is a kernel counter as a constant metric. Above 2^53 a float64
// rounds it; Prometheus has no wider type.
func counter(d *prometheus.Desc, v uint64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
