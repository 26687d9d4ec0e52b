package config

import (
	"strings"
	"testing"
	"time"
)

func bfdFile(bfd string) string {
	return bgpEdit("{address: 10.1.0.1, asn: 65000}", "{address: 10.1.0.1, asn: 65000, bfd: "+bfd+"}") + bgpServices
}

func TestParseBFD(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *BGPBFD
	}{
		{"on", &BGPBFD{300 * time.Millisecond, 300 * time.Millisecond, 3}},
		{"true", &BGPBFD{300 * time.Millisecond, 300 * time.Millisecond, 3}},
		{"off", nil},
		{"{min_tx: 100ms, min_rx: 50ms, multiplier: 5}", &BGPBFD{100 * time.Millisecond, 50 * time.Millisecond, 5}},
		{"{multiplier: 4}", &BGPBFD{300 * time.Millisecond, 300 * time.Millisecond, 4}},
	} {
		f := mustParse(t, bfdFile(tc.in))
		got := f.Agent().BGP.Neighbors[0].BFD
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("bfd: %s: got %+v, want %+v", tc.in, got, tc.want)
		}
		// save writes it back, and the file loads to the same.
		out, err := Marshal(f, "")
		if err != nil {
			t.Fatal(err)
		}
		g := mustParse(t, string(out))
		back := g.Agent().BGP.Neighbors[0].BFD
		if (back == nil) != (got == nil) || (back != nil && *back != *got) {
			t.Errorf("bfd: %s: saved as\n%s\nwhich loads %+v", tc.in, out, back)
		}
		if tc.in == "on" && !strings.Contains(string(out), "bfd: on}") {
			t.Errorf("bfd on saved as\n%s", out)
		}
	}
}

func TestParseBFDErrors(t *testing.T) {
	const eg = "on, off, or e.g. {min_tx: 100ms, min_rx: 100ms, multiplier: 3}"
	for _, tc := range []struct{ in, want string }{
		{"maybe", `bfd "maybe": give ` + eg},
		{"[on]", "bfd must be " + eg},
		{"{min_tx: 5ms}", "min_tx 5ms is out of range: give 10ms to 1m0s (300ms is the default)"},
		{"{min_rx: 2m}", "min_rx 2m is out of range: give 10ms to 1m0s (300ms is the default)"},
		{"{multiplier: 0}", "multiplier 0: give the control packets missed in a row that take the session down, 1-255 (3 is the default)"},
		{"{interval: 1s}", `unknown key "interval" in bfd: the keys are min_rx, min_tx, multiplier`},
	} {
		wantBGPErr(t, bfdFile(tc.in), 5, tc.want)
	}
}
