package metrics

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/l3dsr/l3dsr/internal/bgp"
)

var (
	vip4 = netip.MustParseAddr("192.0.2.10")
	vip6 = netip.MustParseAddr("2001:db8::10")
)

// TestBGPRoutes: announcements and withdrawals as the exposition shows them.
func TestBGPRoutes(t *testing.T) {
	r := New(Sources{BGP: true})
	r.BGP.Track(vip4)
	r.BGP.Track(vip6)
	r.BGP.Changed(vip4, true)
	r.BGP.Changed(vip4, false)
	r.BGP.Changed(vip4, true)
	r.BGP.SetMaintenance(true)
	r.BGP.RouteError()
	want := `# HELP l3dsr_bgp_maintenance 1 while the director is in maintenance ('l3dsr director maintenance on'): every VIP is withdrawn.
# TYPE l3dsr_bgp_maintenance gauge
l3dsr_bgp_maintenance 1
# HELP l3dsr_bgp_route_changes_total Announcements and withdrawals of each VIP (change: announce or withdraw).
# TYPE l3dsr_bgp_route_changes_total counter
l3dsr_bgp_route_changes_total{change="announce",vip="192.0.2.10"} 2
l3dsr_bgp_route_changes_total{change="announce",vip="2001:db8::10"} 0
l3dsr_bgp_route_changes_total{change="withdraw",vip="192.0.2.10"} 1
l3dsr_bgp_route_changes_total{change="withdraw",vip="2001:db8::10"} 0
# HELP l3dsr_bgp_route_errors_total Announcements and withdrawals the BGP speaker refused; each is tried again at the next sync.
# TYPE l3dsr_bgp_route_errors_total counter
l3dsr_bgp_route_errors_total 1
# HELP l3dsr_bgp_vip_announced 1 while the VIP is announced to the BGP neighbors, 0 while it is withdrawn.
# TYPE l3dsr_bgp_vip_announced gauge
l3dsr_bgp_vip_announced{vip="192.0.2.10"} 1
l3dsr_bgp_vip_announced{vip="2001:db8::10"} 0
`
	names := []string{"l3dsr_bgp_maintenance", "l3dsr_bgp_route_changes_total", "l3dsr_bgp_route_errors_total", "l3dsr_bgp_vip_announced"}
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	r.BGP.Forget(vip6)
	if n := testutil.CollectAndCount(r.BGP.announced); n != 1 {
		t.Errorf("after Forget(%s): %d announced series, want 1", vip6, n)
	}
}

// TestBGPSessions: the sessions are read at the scrape, one series per
// state with 1 for the current.
func TestBGPSessions(t *testing.T) {
	r := New(Sources{BGP: true})
	now := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	r.BGP.sessions.now = func() time.Time { return now }
	r.BGP.SetSessions(func() ([]bgp.Session, error) {
		return []bgp.Session{
			{Neighbor: netip.MustParseAddr("10.1.0.1"), ASN: 65000, State: "established", Up: true,
				Since: now.Add(-90 * time.Second), Transitions: 2, UpdatesSent: 7, UpdatesReceived: 1},
			{Neighbor: netip.MustParseAddr("2001:db8:1::1"), ASN: 65000, State: "active"},
		}, nil
	})
	want := `# HELP l3dsr_bgp_session_state The BGP session's FSM state: 1 for the current one, 0 for the others.
# TYPE l3dsr_bgp_session_state gauge
l3dsr_bgp_session_state{neighbor="10.1.0.1",state="active"} 0
l3dsr_bgp_session_state{neighbor="10.1.0.1",state="connect"} 0
l3dsr_bgp_session_state{neighbor="10.1.0.1",state="established"} 1
l3dsr_bgp_session_state{neighbor="10.1.0.1",state="idle"} 0
l3dsr_bgp_session_state{neighbor="10.1.0.1",state="openconfirm"} 0
l3dsr_bgp_session_state{neighbor="10.1.0.1",state="opensent"} 0
l3dsr_bgp_session_state{neighbor="2001:db8:1::1",state="active"} 1
l3dsr_bgp_session_state{neighbor="2001:db8:1::1",state="connect"} 0
l3dsr_bgp_session_state{neighbor="2001:db8:1::1",state="established"} 0
l3dsr_bgp_session_state{neighbor="2001:db8:1::1",state="idle"} 0
l3dsr_bgp_session_state{neighbor="2001:db8:1::1",state="openconfirm"} 0
l3dsr_bgp_session_state{neighbor="2001:db8:1::1",state="opensent"} 0
# HELP l3dsr_bgp_session_transitions_total Times the BGP session became established since the agent started.
# TYPE l3dsr_bgp_session_transitions_total counter
l3dsr_bgp_session_transitions_total{neighbor="10.1.0.1"} 2
l3dsr_bgp_session_transitions_total{neighbor="2001:db8:1::1"} 0
# HELP l3dsr_bgp_session_up 1 while the BGP session with the neighbor is established.
# TYPE l3dsr_bgp_session_up gauge
l3dsr_bgp_session_up{neighbor="10.1.0.1"} 1
l3dsr_bgp_session_up{neighbor="2001:db8:1::1"} 0
# HELP l3dsr_bgp_session_uptime_seconds How long the BGP session has been established; 0 while it is not.
# TYPE l3dsr_bgp_session_uptime_seconds gauge
l3dsr_bgp_session_uptime_seconds{neighbor="10.1.0.1"} 90
l3dsr_bgp_session_uptime_seconds{neighbor="2001:db8:1::1"} 0
# HELP l3dsr_bgp_updates_received_total BGP UPDATE messages received from the neighbor.
# TYPE l3dsr_bgp_updates_received_total counter
l3dsr_bgp_updates_received_total{neighbor="10.1.0.1"} 1
l3dsr_bgp_updates_received_total{neighbor="2001:db8:1::1"} 0
# HELP l3dsr_bgp_updates_sent_total BGP UPDATE messages sent to the neighbor.
# TYPE l3dsr_bgp_updates_sent_total counter
l3dsr_bgp_updates_sent_total{neighbor="10.1.0.1"} 7
l3dsr_bgp_updates_sent_total{neighbor="2001:db8:1::1"} 0
`
	names := []string{"l3dsr_bgp_session_state", "l3dsr_bgp_session_transitions_total", "l3dsr_bgp_session_up",
		"l3dsr_bgp_session_uptime_seconds", "l3dsr_bgp_updates_received_total", "l3dsr_bgp_updates_sent_total"}
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	// A speaker that cannot answer fails its own metrics, not the scrape.
	r.BGP.SetSessions(func() ([]bgp.Session, error) { return nil, errors.New("bgp server stopped") })
	code, body := scrape(t, r)
	if code != 200 || strings.Contains(body, "l3dsr_bgp_session_up") || !strings.Contains(body, "l3dsr_bgp_maintenance 0") {
		t.Errorf("scrape with the sessions failing: status %d, want 200, no session metric, the others:\n%s", code, body)
	}
	if _, err := r.reg.Gather(); err == nil || !strings.Contains(err.Error(), "reading the BGP sessions: bgp server stopped") {
		t.Errorf("Gather's error is %v, want the sessions' read error", err)
	}
}

// TestBGPOnlyWhenAsked: a host without BGP or the relay shows none of
// their metrics.
func TestBGPOnlyWhenAsked(t *testing.T) {
	r := New(Sources{})
	r.BGP.SetMaintenance(true)
	r.ICMP.Relayed("relayed")
	if _, body := scrape(t, r); strings.Contains(body, "l3dsr_bgp_") || strings.Contains(body, "l3dsr_icmp_") {
		t.Errorf("a host without BGP and relay shows their metrics:\n%s", body)
	}
}

func TestICMPRelayed(t *testing.T) {
	r := New(Sources{ICMPRelay: true})
	r.ICMP.Relayed("relayed")
	r.ICMP.Relayed("relayed")
	r.ICMP.Relayed("no_real")
	want := `# HELP l3dsr_icmp_relay_packets_total ICMP fragmentation-needed and packet-too-big messages to a VIP, by what the relay did (relayed, not_vip, no_real, malformed, send_error).
# TYPE l3dsr_icmp_relay_packets_total counter
l3dsr_icmp_relay_packets_total{result="no_real"} 1
l3dsr_icmp_relay_packets_total{result="relayed"} 2
`
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want), "l3dsr_icmp_relay_packets_total"); err != nil {
		t.Error(err)
	}
}
