//go:build linux

package dscpmark

import (
	"net/netip"
	"testing"
)

// scaleMarks are n marks of IPv4 VIPs and n of IPv6 ones, codes spread.
func scaleMarks(n int) []Mark {
	var out []Mark
	for i := range n {
		v4 := netip.AddrFrom4([4]byte{10, 100 + byte(i>>16), byte(i >> 8), byte(i)})
		v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		out = append(out, tcp(v4, 80, uint8(i%64)), udp(v6, 53, uint8(i%64)))
	}
	return out
}

// One transaction carries the marks of a large apply: the kernel takes
// thousands of elements in one batch, and Sync changes them all in one.
func TestIntegrationManyMarksInOneBatch(t *testing.T) {
	ns := newNS(t)
	m := ns.marker()
	marks := scaleMarks(4032)
	if err := m.Add(marks...); err != nil {
		t.Fatalf("Add of %d marks: %v", len(marks), err)
	}
	sameMarks(t, "List after the large Add", mustList(t, m), marks)
	for i := range marks {
		marks[i].DSCP = (marks[i].DSCP + 1) % 64
	}
	added, removed, err := m.Sync(marks[:len(marks)-100])
	if err != nil {
		t.Fatalf("Sync of %d marks: %v", len(marks)-100, err)
	}
	if len(added) != len(marks)-100 || len(removed) != len(marks) {
		t.Errorf("Sync: %d added, %d removed", len(added), len(removed))
	}
	sameMarks(t, "List after the large Sync", mustList(t, m), marks[:len(marks)-100])
}
