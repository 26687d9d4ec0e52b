package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// mhFlows is n flows from 256 client addresses and many ports.
func mhFlows(n int) []netip.AddrPort {
	out := make([]netip.AddrPort, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i % 256 / 128), byte(i % 128)})
		out[i] = netip.AddrPortFrom(a, uint16(1024+i/256))
	}
	return out
}

// mhReals is reals with the given last bytes, in the kernel's list order
// that l3dsr leaves: it adds an mh service's reals in address order, and
// the kernel lists the newest first.
func mhReals(last ...byte) []MHDest {
	d := make([]MHDest, len(last))
	for i, b := range last {
		d[i] = MHDest{Addr: netip.AddrFrom4([4]byte{192, 0, 2, b}), Port: 80, Weight: 100}
	}
	slices.SortFunc(d, func(a, b MHDest) int { return b.Addr.Compare(a.Addr) })
	return d
}

func span(from, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(from + 10*i)
	}
	return out
}

// picks is the real each flow goes to ("-" for none).
func picks(t *testing.T, dests []MHDest, flows []netip.AddrPort) []string {
	t.Helper()
	svc := Service{Protocol: ProtoTCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 80, Scheduler: "mh", Flags: flagSchedMHPort}
	tab, err := NewMHTable(svc, dests, MHTableSize)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(flows))
	for i, f := range flows {
		if j, ok := tab.Pick(f.Addr(), f.Port()); ok {
			out[i] = dests[j].Addr.String()
		} else {
			out[i] = "-"
		}
	}
	return out
}

// TestMHDisruption measures what a change of the real set does to the
// flows of an mh service (the figures in BENCHMARKS.md, "Several
// directors"), and holds the properties the agent relies on: quiescing a
// real (weight 0, the agent's default on a failed check) moves no flow of
// the others, since the real keeps its slots; and a removed or added real
// moves far fewer flows than a modulo hash would (about (n-1)/n of them).
func TestMHDisruption(t *testing.T) {
	flows := mhFlows(40000)
	for _, n := range []int{4, 8} {
		t.Run(fmt.Sprint(n, " reals"), func(t *testing.T) {
			base := mhReals(span(20, n)...)
			before := picks(t, base, flows)

			// Add one, as l3dsr does: at the head of the kernel's list when
			// it sorts last, else with the reals after it added again.
			for _, add := range []struct {
				where string
				last  byte
			}{{"sorts last", 250}, {"sorts first", 15}, {"sorts in the middle", 25}} {
				nw := netip.AddrFrom4([4]byte{192, 0, 2, add.last}).String()
				after := picks(t, mhReals(append(span(20, n), add.last)...), flows)
				moved, toNew := 0, 0
				for i := range flows {
					if before[i] != after[i] {
						moved++
						if after[i] == nw {
							toNew++
						}
					}
				}
				t.Logf("%d reals, add one that %s: %.1f%% of flows moved (fair share %.1f%%), %.1f%% between reals that stayed",
					n, add.where, pct(moved, len(flows)), 100/float64(n+1), pct(moved-toNew, len(flows)))
				if float64(moved)/float64(len(flows)) > 0.5 {
					t.Errorf("adding a real that %s moved %d of %d flows: more than half, no better than modulo hashing", add.where, moved, len(flows))
				}
			}

			// Remove one of the n: its flows must move, the others mostly stay.
			gone := base[0].Addr.String()
			removed := picks(t, base[1:], flows)
			others, othersMoved := 0, 0
			for i := range flows {
				if before[i] != gone {
					others++
					if removed[i] != before[i] {
						othersMoved++
					}
				}
			}
			t.Logf("%d reals, remove one: %.1f%% of the other reals' flows moved", n, pct(othersMoved, others))
			if float64(othersMoved)/float64(others) > 0.25 {
				t.Errorf("removing a real moved %d of the %d flows of the others", othersMoved, others)
			}

			// Quiesce one: the others' flows stay where they were, exactly.
			q := slices.Clone(base)
			q[0].LastWeight, q[0].Weight = q[0].Weight, 0
			quiesced := picks(t, q, flows)
			for i := range flows {
				if before[i] != gone && quiesced[i] != before[i] {
					t.Fatalf("quiescing %s moved flow %v from %s to %s", gone, flows[i], before[i], quiesced[i])
				}
				if before[i] == gone && quiesced[i] != "-" {
					t.Fatalf("flow %v of the quiesced real went to %s without mh-fallback", flows[i], quiesced[i])
				}
			}
		})
	}
}

func pct(a, b int) float64 { return 100 * float64(a) / float64(b) }
