package config

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseAgent(t *testing.T) {
	def := Agent{Metrics: "127.0.0.1:9641", RepairInterval: 10 * time.Second}
	for _, tc := range []struct {
		name, in string
		want     Agent
		line     int // of MetricsPos
	}{
		{"no section: the defaults, at the file", "director:\n", def, 0},
		{"an empty section: the defaults, at the section", "agent:\n", def, 1},
		{"every key", "agent:\n  metrics: 192.0.2.1:9100\n  on_stop: teardown\n  repair_interval: 1m\n",
			Agent{Metrics: "192.0.2.1:9100", Teardown: true, RepairInterval: time.Minute}, 2},
		{"off", "agent:\n  on_stop: keep\n  metrics: OFF\n", Agent{RepairInterval: 10 * time.Second}, 3},
		{"IPv6, quoted", "agent:\n  metrics: \"[::1]:9641\"\n", Agent{Metrics: "[::1]:9641", RepairInterval: 10 * time.Second}, 2},
		{"every address", "agent: {metrics: ':9641', repair_interval: 1s}\n", Agent{Metrics: ":9641", RepairInterval: time.Second}, 1},
		{"written in a longer form", "agent:\n  metrics: \"[0:0::1]:09641\"\n", Agent{Metrics: "[::1]:9641", RepairInterval: 10 * time.Second}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustParse(t, tc.in).Agent()
			pos := a.MetricsPos
			a.MetricsPos = Pos{}
			if a != tc.want || pos != (Pos{"t", tc.line}) {
				t.Errorf("Agent() = %+v at %v; want %+v at t:%d", a, pos, tc.want, tc.line)
			}
		})
	}
	// A file not read from one (save's) has the defaults too.
	if a := (&File{}).Agent(); a.Metrics != def.Metrics || a.RepairInterval != def.RepairInterval || a.Teardown {
		t.Errorf("an unread file's agent: %+v", a)
	}
}

func TestParseAgentErrors(t *testing.T) {
	const eg = `e.g. 127.0.0.1:9641, "[::1]:9641" (quoted), :9641 for every address, or off`
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"a host name", "agent:\n  metrics: localhost:9641\n", 2, `metrics "localhost:9641" names a host, and nothing is resolved: give an address, e.g. 127.0.0.1:9641`},
		{"no port", "agent:\n  metrics: 127.0.0.1\n", 2, `metrics "127.0.0.1" has no port: write "127.0.0.1:9641"`},
		{"no port, IPv6", "agent:\n  metrics: \"::1\"\n", 2, `metrics "::1" has no port: write "[::1]:9641"`},
		{"port 0", "agent:\n  metrics: 127.0.0.1:0\n", 2, `metrics "127.0.0.1:0" has port 0, which Prometheus could not find: write ` + eg},
		{"a port name", "agent:\n  metrics: 127.0.0.1:http\n", 2, `metrics "127.0.0.1:http" has no port number: write ` + eg},
		{"port too big", "agent:\n  metrics: 127.0.0.1:65536\n", 2, `metrics "127.0.0.1:65536" has no port number: write ` + eg},
		{"not an address", "agent:\n  metrics: yes please\n", 2, `metrics "yes please" is not ADDRESS:PORT: write ` + eg},
		{"IPv6 unquoted", "agent:\n  metrics: [::1]:9641\n", 1, `YAML syntax`},
		{"IPv6 a list", "agent:\n  metrics: [\"::1\"]\n", 2, `metrics is a list: quote an IPv6 address, e.g. metrics: "[::1]:9641"`},
		{"on_stop", "agent:\n  on_stop: drain\n", 2, `on_stop "drain": use keep (a stop leaves the data path as it is, so a restart drops nothing) or teardown (a stop deletes what the file set up)`},
		{"repair too often", "agent:\n  repair_interval: 500ms\n", 2, "repair_interval 500ms is under 1s: each repair reads the whole running state; give 1s or more"},
		{"repair without unit", "agent:\n  repair_interval: 10\n", 2, "repair_interval 10 has no unit: write 10s (or ms, m)"},
		{"unknown key", "agent:\n  metric: off\n", 2, `unknown key "metric" in agent: the keys are bgp, icmp_relay, metrics, on_stop, repair_interval`},
		{"a list", "agent:\n  - metrics: off\n", 2, "agent must be a mapping with the keys bgp, icmp_relay, metrics, on_stop, repair_interval, not a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.want, "YAML syntax") {
				// The YAML parser's words and line (it says 1): refused
				// before the key is read.
				_, err := parseFile("f", []byte(tc.in))
				if err == nil || !strings.HasPrefix(err.Error(), "f:") || !strings.Contains(err.Error(), ": YAML syntax: ") {
					t.Errorf("error = %v", err)
				}
				return
			}
			wantErr(t, tc.in, tc.line, tc.want)
		})
	}
}

// apply plans a file with checks, sorry reals and an agent section as it
// plans the same file without them: they are the agent's.
func TestApplyIgnoresAgentAndHealth(t *testing.T) {
	plain := dirBase
	full := strings.Replace(dirBase, "      dscp: 21\n", "      dscp: 21\n      sorry: 10.1.0.99\n      health: {kind: http, path: /healthz, interval: 2s}\n", 1) +
		"agent:\n  metrics: off\n  on_stop: teardown\n"
	if full == plain+"agent:\n  metrics: off\n  on_stop: teardown\n" {
		t.Fatal("the check was not added to the file")
	}
	if h := mustParse(t, full).director.Services[0].Health; h == nil {
		t.Fatal("no check parsed")
	}
	want := whats(planDir(t, newFakeDirector(), plain))
	if got := whats(planDir(t, newFakeDirector(), full)); got != want {
		t.Errorf("plan with checks:\n%s\nwant\n%s", got, want)
	}
	// And against a director that runs the file: nothing to do.
	d := newFakeDirector()
	if _, err := (Plan{planDir(t, d, plain)}).Apply(); err != nil {
		t.Fatal(err)
	}
	if steps := planDir(t, d, full); len(steps) != 0 {
		t.Errorf("plan of the file with checks against what runs: %s", whats(steps))
	}
	// The real-server side too (the agent section alone).
	rs := newFakeRS()
	f := mustParse(t, good+"agent: {repair_interval: 5s}\n")
	if steps := planRealServer(context.Background(), f.realServer, nil, rs); len(steps) != 3 {
		t.Errorf("real-server plan: %s", whats(steps))
	}
}
