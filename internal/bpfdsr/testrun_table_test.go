package bpfdsr

import (
	"bytes"
	"testing"
)

// Three entries, three packets: (DSCP, local) > (DSCP, any) > (any, local).
func TestRunLookupOrder(t *testing.T) {
	r := newRig(t, false)
	other := "10.0.0.6"
	r.add(4, key(10, rip4.String()), "192.0.2.1", 255)
	r.add(4, key(10, ""), "192.0.2.2", 255)
	r.add(4, key(255, other), "192.0.2.3", 255)
	for _, tc := range []struct {
		dscp uint8
		dst  string
		want string
	}{
		{10, rip4.String(), "192.0.2.1"}, // the exact entry beats both others
		{10, other, "192.0.2.2"},         // (10, any) beats (any, other)
		{11, other, "192.0.2.3"},         // only (any, other) matches
	} {
		dst := mustAddr(tc.dst)
		seg := segment(client4, dst, protoUDP, []byte("order"))
		out := r.mustRun(ipv4(tc.dscp<<2, protoUDP, client4, dst, 0, seg))
		if got := dst4(out).String(); got != tc.want {
			t.Errorf("DSCP %d to %s: daddr %s, want %s", tc.dscp, tc.dst, got, tc.want)
		}
	}
	r.wantTotals(l3dsrL3dsrTotals{Rewritten: 3})
}

// Counters: the entry's packets and bytes (from the IP header on), totals
// exact; unmatched IP counts no_entry; a non-IP frame counts nothing.
func TestRunCounters(t *testing.T) {
	r := newRig(t, false)
	k := key(10, rip4.String())
	r.add(4, k, vip4.String(), 255)
	seg := segment(client4, rip4, protoTCP, make([]byte, 100))
	in := ipv4(10<<2, protoTCP, client4, rip4, 0, seg)
	r.mustRun(in)
	r.mustRun(in)
	if p, b := r.counters(4, k); p != 2 || b != 2*uint64(len(in)-ethHdr) {
		t.Errorf("entry: %d packets %d bytes, want 2 and %d", p, b, 2*(len(in)-ethHdr))
	}

	// Wrong code, wrong address, and a family with no entries at all.
	for _, pkt := range [][]byte{
		ipv4(11<<2, protoTCP, client4, rip4, 0, seg),
		ipv4(10<<2, protoTCP, client4, mustAddr("10.0.0.9"), 0, seg),
		ipv6(10<<2, protoTCP, client6, rip6, segment(client6, rip6, protoTCP, nil)),
	} {
		if out := r.mustRun(pkt); !bytes.Equal(out, pkt) {
			t.Errorf("unmatched packet changed")
		}
	}

	arp := ether(0x0806, bytes.Repeat([]byte{1}, 28))
	if out := r.mustRun(arp); !bytes.Equal(out, arp) {
		t.Errorf("ARP frame changed")
	}
	r.wantTotals(l3dsrL3dsrTotals{Rewritten: 2, NoEntry: 3})
}

// The present filter alone turns a packet away: no bit, no lookup.
func TestRunPresentFilter(t *testing.T) {
	r := newRig(t, false)
	k := key(10, rip4.String())
	r.add(4, k, vip4.String(), 255)
	if err := r.objs.Present.Put(uint32(0), l3dsrL3dsrPresent{}); err != nil {
		t.Fatal(err)
	}
	seg := segment(client4, rip4, protoTCP, nil)
	in := ipv4(10<<2, protoTCP, client4, rip4, 0, seg)
	if out := r.mustRun(in); !bytes.Equal(out, in) {
		t.Errorf("packet rewritten although present has no bit for DSCP 10")
	}
	r.wantTotals(l3dsrL3dsrTotals{NoEntry: 1})
}
