package pcapcheck

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
)

// frame builds an Ethernet frame carrying an IPv4 or IPv6 header with the
// given DSCP (ECN bits set too, which the filter must ignore), behind the
// given VLAN tag EtherTypes.
func frame(ipVersion int, dscp uint8, tags ...uint16) []byte {
	b := make([]byte, 12) // destination and source MAC
	for _, t := range tags {
		b = binary.BigEndian.AppendUint16(b, t)
		b = binary.BigEndian.AppendUint16(b, 100) // TCI: VLAN 100
	}
	switch ipVersion {
	case 4:
		b = binary.BigEndian.AppendUint16(b, etherTypeIPv4)
		ip := make([]byte, 20)
		ip[0] = 0x45
		ip[1] = dscp<<2 | 0x3
		b = append(b, ip...)
	case 6:
		b = binary.BigEndian.AppendUint16(b, etherTypeIPv6)
		ip := make([]byte, 40)
		tc := uint32(dscp)<<2 | 0x3
		binary.BigEndian.PutUint32(ip, 6<<28|tc<<20|0xabcde)
		b = append(b, ip...)
	default:
		b = binary.BigEndian.AppendUint16(b, 0x0806) // ARP
		b = append(b, make([]byte, 28)...)
	}
	return b
}

func runFilter(t *testing.T, raw []bpf.RawInstruction, pkt []byte) bool {
	t.Helper()
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	n, err := vm.Run(pkt)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return n > 0
}

func TestDSCPFilterMatchesExactlyTheSet(t *testing.T) {
	sets := [][]int{{1}, {0}, {63}, {31, 32}, {1, 2, 10, 46}, {5, 33, 40, 62}}
	tagStacks := [][]uint16{nil, {etherTypeVLAN}, {etherTypeQinQ, etherTypeVLAN}, {etherTypeVLAN, etherTypeVLAN}}
	for _, codes := range sets {
		set, err := newDSCPSet(codes...)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := dscpFilter(set)
		if err != nil {
			t.Fatal(err)
		}
		for _, ver := range []int{4, 6} {
			for _, tags := range tagStacks {
				for d := 0; d < 64; d++ {
					got := runFilter(t, raw, frame(ver, uint8(d), tags...))
					if want := set.has(uint8(d)); got != want {
						t.Errorf("set %v, IPv%d, tags %x, DSCP %d: accepted=%v, want %v", codes, ver, tags, d, got, want)
					}
				}
			}
		}
	}
}

func TestDSCPFilterRejectsOtherFrames(t *testing.T) {
	set, _ := newDSCPSet(0, 1)
	raw, err := dscpFilter(set)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"ARP":                        frame(0, 0),
		"three VLAN tags":            frame(4, 1, etherTypeVLAN, etherTypeVLAN, etherTypeVLAN),
		"truncated before EtherType": frame(4, 1)[:13],
		"truncated IPv4 header":      frame(4, 1)[:15],
		"truncated IPv6 header":      frame(6, 1)[:15],
		"empty":                      {},
	}
	for name, pkt := range cases {
		if runFilter(t, raw, pkt) {
			t.Errorf("%s: accepted, want rejected", name)
		}
	}
}

func TestDSCPSetValidation(t *testing.T) {
	if _, err := newDSCPSet(1, 64); err == nil || err.Error() != "DSCP 64 is out of range: use 0-63" {
		t.Errorf("newDSCPSet(64) error = %v", err)
	}
	if _, err := newDSCPSet(-1); err == nil {
		t.Error("newDSCPSet(-1): no error")
	}
	if _, err := dscpFilter(0); err == nil {
		t.Error("dscpFilter(empty set): no error")
	}
}
