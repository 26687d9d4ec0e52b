package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const directorText = `
# HELP l3dsr_ipvs_service_connections_total Connections IPVS scheduled for the service.
# TYPE l3dsr_ipvs_service_connections_total counter
l3dsr_ipvs_service_connections_total{port="80",proto="tcp",vip="192.0.2.10"} 30
l3dsr_ipvs_service_connections_total{port="53",proto="udp",vip="2001:db8::53"} 5
# HELP l3dsr_ipvs_service_packets_total Packets of the service's connections, in (from clients) and out (replies through the director: none in DSR).
# TYPE l3dsr_ipvs_service_packets_total counter
l3dsr_ipvs_service_packets_total{direction="in",port="80",proto="tcp",vip="192.0.2.10"} 1099511627776
l3dsr_ipvs_service_packets_total{direction="out",port="80",proto="tcp",vip="192.0.2.10"} 0
l3dsr_ipvs_service_packets_total{direction="in",port="53",proto="udp",vip="2001:db8::53"} 5
l3dsr_ipvs_service_packets_total{direction="out",port="53",proto="udp",vip="2001:db8::53"} 3
# HELP l3dsr_ipvs_service_bytes_total Bytes of the service's connections, in (from clients) and out (replies through the director: none in DSR).
# TYPE l3dsr_ipvs_service_bytes_total counter
l3dsr_ipvs_service_bytes_total{direction="in",port="80",proto="tcp",vip="192.0.2.10"} 109951162777600
l3dsr_ipvs_service_bytes_total{direction="out",port="80",proto="tcp",vip="192.0.2.10"} 0
l3dsr_ipvs_service_bytes_total{direction="in",port="53",proto="udp",vip="2001:db8::53"} 500
l3dsr_ipvs_service_bytes_total{direction="out",port="53",proto="udp",vip="2001:db8::53"} 300
# HELP l3dsr_ipvs_real_connections_total Connections IPVS scheduled to the real server.
# TYPE l3dsr_ipvs_real_connections_total counter
l3dsr_ipvs_real_connections_total{port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 20
l3dsr_ipvs_real_connections_total{port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 10
l3dsr_ipvs_real_connections_total{port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 5
# HELP l3dsr_ipvs_real_packets_total Packets of the real server's connections, in and out through the director.
# TYPE l3dsr_ipvs_real_packets_total counter
l3dsr_ipvs_real_packets_total{direction="in",port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 200
l3dsr_ipvs_real_packets_total{direction="out",port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 0
l3dsr_ipvs_real_packets_total{direction="in",port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 100
l3dsr_ipvs_real_packets_total{direction="out",port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 0
l3dsr_ipvs_real_packets_total{direction="in",port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 5
l3dsr_ipvs_real_packets_total{direction="out",port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 3
# HELP l3dsr_ipvs_real_bytes_total Bytes of the real server's connections, in and out through the director.
# TYPE l3dsr_ipvs_real_bytes_total counter
l3dsr_ipvs_real_bytes_total{direction="in",port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 20000
l3dsr_ipvs_real_bytes_total{direction="out",port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 0
l3dsr_ipvs_real_bytes_total{direction="in",port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 10000
l3dsr_ipvs_real_bytes_total{direction="out",port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 0
l3dsr_ipvs_real_bytes_total{direction="in",port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 500
l3dsr_ipvs_real_bytes_total{direction="out",port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 300
# HELP l3dsr_ipvs_real_active_connections The real server's connections IPVS counts as active (TCP established).
# TYPE l3dsr_ipvs_real_active_connections gauge
l3dsr_ipvs_real_active_connections{port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 7
l3dsr_ipvs_real_active_connections{port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 1
l3dsr_ipvs_real_active_connections{port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 0
# HELP l3dsr_ipvs_real_inactive_connections The real server's connections IPVS counts as inactive (any other state, UDP included).
# TYPE l3dsr_ipvs_real_inactive_connections gauge
l3dsr_ipvs_real_inactive_connections{port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 2
l3dsr_ipvs_real_inactive_connections{port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 0
l3dsr_ipvs_real_inactive_connections{port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 5
# HELP l3dsr_ipvs_real_weight The real server's IPVS weight; 0 is quiescent (a failed check, or a drain).
# TYPE l3dsr_ipvs_real_weight gauge
l3dsr_ipvs_real_weight{port="80",proto="tcp",real="198.51.100.1",vip="192.0.2.10"} 100
l3dsr_ipvs_real_weight{port="80",proto="tcp",real="198.51.100.2",vip="192.0.2.10"} 0
l3dsr_ipvs_real_weight{port="53",proto="udp",real="2001:db8:1::1",vip="2001:db8::53"} 1
# HELP l3dsr_scrape_errors_total Scrapes in which reading a source from the kernel failed; that source's metrics were left out.
# TYPE l3dsr_scrape_errors_total counter
l3dsr_scrape_errors_total{source="director"} 0
`

// TestDirectorExposition: every IPVS counter and gauge of each service and
// real, with the kernel's value and the labels vip, port, proto (and
// real, direction), IPv6 addresses as netip prints them.
func TestDirectorExposition(t *testing.T) {
	src := fakeSources()
	src.Table, src.Backend = nil, nil
	if err := testutil.CollectAndCompare(newKernelCollector(src), strings.NewReader(directorText)); err != nil {
		t.Error(err)
	}
}

const tableText = `
# HELP l3dsr_map_packets_total Packets the entry rewrote to its VIP.
# TYPE l3dsr_map_packets_total counter
l3dsr_map_packets_total{dscp="21",family="ipv4",local="any",vip="192.0.2.10"} 1099511627776
l3dsr_map_packets_total{dscp="22",family="ipv6",local="2001:db8:1::1",vip="2001:db8::53"} 9
# HELP l3dsr_map_bytes_total Bytes of the packets the entry rewrote to its VIP.
# TYPE l3dsr_map_bytes_total counter
l3dsr_map_bytes_total{dscp="21",family="ipv4",local="any",vip="192.0.2.10"} 65970697666560
l3dsr_map_bytes_total{dscp="22",family="ipv6",local="2001:db8:1::1",vip="2001:db8::53"} 900
# HELP l3dsr_map_rewritten_packets_total Packets the table gave their VIP, all entries together.
# TYPE l3dsr_map_rewritten_packets_total counter
l3dsr_map_rewritten_packets_total 1099511627785
# HELP l3dsr_map_no_entry_packets_total Packets that went through a map-mode rule and found no entry (they pass untouched: a real server without the service's mapping).
# TYPE l3dsr_map_no_entry_packets_total counter
l3dsr_map_no_entry_packets_total 4
# HELP l3dsr_map_error_packets_total Packets dropped because they could not be rewritten.
# TYPE l3dsr_map_error_packets_total counter
l3dsr_map_error_packets_total 1
# HELP l3dsr_map_entries Entries in the table.
# TYPE l3dsr_map_entries gauge
l3dsr_map_entries 2
# HELP l3dsr_backend_info The DSCP→VIP table's backend in use (always 1).
# TYPE l3dsr_backend_info gauge
l3dsr_backend_info{backend="xt_DADDR"} 1
# HELP l3dsr_scrape_errors_total Scrapes in which reading a source from the kernel failed; that source's metrics were left out.
# TYPE l3dsr_scrape_errors_total counter
l3dsr_scrape_errors_total{source="table"} 0
`

// TestTableExposition: each entry's counters by family, DSCP, local
// ("any" when unset) and VIP; the module's totals; the backend.
func TestTableExposition(t *testing.T) {
	src := fakeSources()
	src.Director = nil
	if err := testutil.CollectAndCompare(newKernelCollector(src), strings.NewReader(tableText)); err != nil {
		t.Error(err)
	}
}

// TestNoSources: a host of neither role exposes no kernel metric at all,
// not even an error counter of a source it does not have.
func TestNoSources(t *testing.T) {
	if n := testutil.CollectAndCount(newKernelCollector(Sources{})); n != 0 {
		t.Errorf("a collector without sources sent %d metrics, want 0", n)
	}
}

// TestKernelLint: promlint (what 'promtool check metrics' runs) finds
// nothing in the kernel's metrics of both roles.
func TestKernelLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(newKernelCollector(fakeSources()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
