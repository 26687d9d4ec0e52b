package metrics

import "github.com/prometheus/client_golang/prometheus"

// ICMP counts what the director's ICMP relay did with each "fragmentation
// needed" and "packet too big" addressed to a VIP. Its methods are safe
// for concurrent use.
type ICMP struct {
	packets *prometheus.CounterVec
}

func newICMP() *ICMP {
	return &ICMP{packets: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "l3dsr_icmp_relay_packets_total",
		Help: "ICMP fragmentation-needed and packet-too-big messages to a VIP, by what the relay did (relayed, not_vip, no_real, malformed, send_error).",
	}, []string{"result"})}
}

func (i *ICMP) collectors() []prometheus.Collector { return []prometheus.Collector{i.packets} }

// Results shows each of results at 0 until it happens, so that rate() and
// alerts on a result see it from the first scrape.
func (i *ICMP) Results(results ...string) {
	for _, r := range results {
		i.packets.WithLabelValues(r)
	}
}

// Relayed counts one packet the relay handled, by its result.
func (i *ICMP) Relayed(result string) { i.packets.WithLabelValues(result).Inc() }
