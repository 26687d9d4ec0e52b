package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l3dsr/l3dsr/maptable"
)

// tableDescs are the real server's DSCP→VIP table: each entry's counters
// and the module's totals.
type tableDescs struct {
	packets, bytes                    *prometheus.Desc
	rewritten, noEntry, errors, count *prometheus.Desc
}

func newTableDescs() tableDescs {
	// An entry's key (family, DSCP, local address) and its VIP: the VIP
	// joins the director's vip label; "any" is an entry for every local
	// address, as 'l3dsr map show' prints it.
	entry := []string{"family", "dscp", "local", "vip"}
	return tableDescs{
		packets: prometheus.NewDesc("l3dsr_map_packets_total",
			"Packets the entry rewrote to its VIP.", entry, nil),
		bytes: prometheus.NewDesc("l3dsr_map_bytes_total",
			"Bytes of the packets the entry rewrote to its VIP.", entry, nil),
		rewritten: prometheus.NewDesc("l3dsr_map_rewritten_packets_total",
			"Packets the table gave their VIP, all entries together.", nil, nil),
		noEntry: prometheus.NewDesc("l3dsr_map_no_entry_packets_total",
			"Packets that went through a map-mode rule and found no entry (they pass untouched: a real server without the service's mapping).", nil, nil),
		errors: prometheus.NewDesc("l3dsr_map_error_packets_total",
			"Packets dropped because they could not be rewritten.", nil, nil),
		count: prometheus.NewDesc("l3dsr_map_entries",
			"Entries in the table.", nil, nil),
	}
}

func (d tableDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.packets, d.bytes, d.rewritten, d.noEntry, d.errors, d.count} {
		ch <- x
	}
}

func (d tableDescs) collect(ch chan<- prometheus.Metric, entries []maptable.Entry, st maptable.Stats) {
	for _, e := range entries {
		k := e.Key()
		local := "any"
		if k.Local.IsValid() {
			local = k.Local.String()
		}
		labels := []string{k.Family.Name(), k.DSCP.String(), local, e.VIP.String()}
		ch <- counter(d.packets, e.Packets, labels...)
		ch <- counter(d.bytes, e.Bytes, labels...)
	}
	ch <- counter(d.rewritten, st.Rewritten)
	ch <- counter(d.noEntry, st.NoEntry)
	ch <- counter(d.errors, st.Errors)
	ch <- gauge(d.count, float64(st.Entries))
}
