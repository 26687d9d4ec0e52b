package config

import (
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
)

// withChecks has a check of every kind, a sorry real and an agent section
// with every key away from its default.
const withChecks = `director:
  services:
    - vip: 10.0.0.1:80
      dscp: 21
      sorry: 192.0.2.99
      health: {kind: https, via: rip, interval: 2s, timeout: 500ms, rise: 1, fall: 5, on_failure: remove, method: HEAD, path: /healthz, status: 204, body: "^ok$", host: www.example.com}
      reals: [{address: 192.0.2.10}]
    - vip: 10.0.0.2:53
      proto: udp
      mode: ipip
      health: {kind: udp-dns, query: example.com, qtype: A, rcode: NXDOMAIN}
    - vip: 10.0.0.3:80
      mode: dr
      health: {kind: exec, command: [/bin/check, -v]}
    - vip: 10.0.0.4:80
      dscp: 4
      health: {kind: tcp}
agent:
  metrics: off
  on_stop: teardown
  repair_interval: 30s
`

// A parsed file saves whole, defaults left out; the fuzz test's round
// trip checks the value, this the words.
func TestMarshalChecks(t *testing.T) {
	f := mustParse(t, withChecks)
	out, err := Marshal(f, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"      sorry: 192.0.2.99\n      health:\n        kind: https\n        via: rip\n        interval: 2s\n        timeout: 500ms\n        rise: 1\n        fall: 5\n        on_failure: remove\n        method: HEAD\n        path: /healthz\n        host: www.example.com\n        status: 204\n        body: ^ok$\n      reals:",
		"      health:\n        kind: udp-dns\n        query: example.com.\n        qtype: A\n        rcode: NXDOMAIN\n",
		"      health:\n        kind: exec\n        command: [/bin/check, -v]\n",
		"      health:\n        kind: tcp\n      reals: []\n",
		"agent:\n  metrics: off\n  on_stop: teardown\n  repair_interval: 30s\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("saved file has no\n%s\nin\n%s", want, out)
		}
	}
	roundTrip(t, f, []byte(withChecks))
}

// save writes what runs: no check, no sorry real, no agent section.
func TestRunningHasNoChecks(t *testing.T) {
	f := fromRunning(nil, []director.Service{mustParse(t, withChecks).director.Services[0].Service})
	out, err := Marshal(f, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"health", "sorry", "agent"} {
		if strings.Contains(string(out), key) {
			t.Errorf("save wrote %s:\n%s", key, out)
		}
	}
}
