package bgptest

import (
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/bgp"
)

// bfdState is the state of BIRD's BFD session with addr, "" when it has
// none.
func (tp *topo) bfdState(t *testing.T, addr string) string {
	t.Helper()
	for _, l := range strings.Split(tp.birdc(t, "show", "bfd", "sessions"), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == addr {
			return f[2]
		}
	}
	return ""
}

// silence drops every packet the director sends, as if it had died with
// its link still up: the router hears nothing, neither BGP nor BFD.
func (tp *topo) silence(t *testing.T) {
	t.Helper()
	run(t, "ip", "netns", "exec", tp.director.Name, "iptables", "-A", "OUTPUT", "-j", "DROP")
}

// downAfterSilence silences the director and returns how long BIRD's
// session d4 stayed Established after, and BIRD's last error for it.
func (tp *topo) downAfterSilence(t *testing.T) (time.Duration, string) {
	t.Helper()
	tp.silence(t)
	took, ok := waitFor(15*time.Second, func() bool { return tp.protoState(t, "d4") != "Established" })
	if !ok {
		t.Fatalf("bird's d4 still Established %v after the director went silent", took)
	}
	return took, lastError(tp.birdc(t, "show", "protocols", "all", "d4"))
}

// TestIntegrationBFD: with BFD the BFD session with BIRD comes up, and when
// the director goes silent BIRD takes the BGP session down on BFD's word,
// not the hold timer's; the same cut without BFD takes the hold time.
func TestIntegrationBFD(t *testing.T) {
	var withBFD, without time.Duration
	t.Run("bfd", func(t *testing.T) {
		tp := newTopo(t)
		p := proto4
		p.bfd = true
		tp.startBird(t, p)
		n := neighbor4
		n.BFD = &bgp.BFD{MinTx: 100 * time.Millisecond, MinRx: 100 * time.Millisecond, Multiplier: 3}
		tp.startSpeaker(t, n)
		tp.established(t, "d4")
		if took, ok := waitFor(10*time.Second, func() bool { return tp.bfdState(t, "10.1.0.11") == "Up" }); !ok {
			t.Fatalf("bird's BFD session with 10.1.0.11 is %q after %v, want Up:\n%s", tp.bfdState(t, "10.1.0.11"), took, tp.birdc(t, "show", "bfd", "sessions"))
		}
		var why string
		withBFD, why = tp.downAfterSilence(t)
		t.Logf("with BFD (100 ms x 3): bird's session down %d ms after the cut (%s)", withBFD.Milliseconds(), why)
		if !strings.Contains(why, "BFD session down") {
			t.Errorf("bird's d4 went down for %q, want BFD session down", why)
		}
	})
	t.Run("hold time", func(t *testing.T) {
		tp := newTopo(t)
		tp.startBird(t, proto4)
		tp.startSpeaker(t, neighbor4)
		tp.established(t, "d4")
		var why string
		without, why = tp.downAfterSilence(t)
		t.Logf("without BFD (hold time 3 s): bird's session down %d ms after the cut (%s)", without.Milliseconds(), why)
	})
	t.Logf("down after the cut: %d ms with BFD, %d ms with the hold time alone", withBFD.Milliseconds(), without.Milliseconds())
}
