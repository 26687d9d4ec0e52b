package maptable

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// bigTableJSON is a table of n entries as a generator writes one (the
// live-change scenario replaces 65,536).
func bigTableJSON(n int) []byte {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"family": "ipv4", "dscp": %d, "local": "10.1.%d.%d", "vip": "10.2.%d.%d", "packets": 0, "bytes": 0}`,
			i%64, i>>14, (i>>6)&255, i>>8, i&255)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// A table of 65,536 entries parses, from a reader and as 'rule replace -f -'
// reads it (ReadFile).
func TestReadTableBig(t *testing.T) {
	n := 65536
	for name, read := range map[string]func([]byte) ([]Entry, error){
		"readTable": func(b []byte) ([]Entry, error) { return readTable(bytes.NewReader(b)) },
		"ReadFile":  func(b []byte) ([]Entry, error) { return ReadFile("-", bytes.NewReader(b)) },
	} {
		entries, err := read(bigTableJSON(n))
		if err != nil {
			t.Fatal(name, err)
		}
		if len(entries) != n || entries[n-1].DSCP != 63 || entries[n-1].VIP != netip.MustParseAddr("10.2.255.255") {
			t.Errorf("%s: %d entries, last %v", name, len(entries), entries[len(entries)-1])
		}
	}
}

// The entries as MarshalJSON writes them read back the same, and errors
// name the line and match errInvalid.
func TestReadTableRoundTripAndErrors(t *testing.T) {
	a := netip.MustParseAddr
	in := []Entry{
		{Family: dsrtypes.IPv4, DSCP: 21, VIP: a("10.0.0.1"), Packets: 3, Bytes: 180},
		{Family: dsrtypes.IPv6, DSCP: 0x3f, Local: a("2001:db8:e::30"), VIP: a("2001:db8::1")},
	}
	var b bytes.Buffer
	for i, e := range in {
		j, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(map[bool]string{true: "[", false: ",\n"}[i == 0])
		b.Write(j)
	}
	b.WriteString("]")
	out, err := readTable(&b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i].Packets, in[i].Bytes = 0, 0
		out[i].Packets, out[i].Bytes = 0, 0
		if in[i] != out[i] {
			t.Errorf("entry %d read back as %v, want %v", i, out[i], in[i])
		}
	}

	_, err = readTable(strings.NewReader("[\n{\"family\": \"ipv4\", \"dscp\": 1, \"vip\": \"10.0.0.1\"},\n{\"family\": \"ipv4\", \"dscp\": 99, \"vip\": \"10.0.0.2\"}]"))
	var te *tableError
	if !errors.As(err, &te) || te.Line != 3 || !errors.Is(err, errInvalid) ||
		te.in("t.json") != `t.json:3: entry 1: "dscp" 99 is out of range: use 0-63` {
		t.Errorf("err = %v", err)
	}
	if _, err := readTable(strings.NewReader(" \n")); !errors.As(err, &te) || te.in("standard input") != "standard input is empty: give a JSON array of entries ([] for an empty table), as 'l3dsr rule list -o json' prints it" {
		t.Errorf("empty: err = %v", err)
	}
}

func BenchmarkReadTable65536(b *testing.B) {
	data := bigTableJSON(65536)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readTable(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
