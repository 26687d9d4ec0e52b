package maptable

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func dscpPtr(d dsrtypes.DSCP) *dsrtypes.DSCP { return &d }

// entryAttrs is the L3DSR_A_ENTRY nest the fake kernel received in req.
func entryAttrs(t *testing.T, req request) []byte {
	t.Helper()
	attrs, err := netlink.UnmarshalAttributes(req.data)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attrs {
		if a.Type&0x3fff == attrEntry {
			return a.Data
		}
	}
	t.Fatalf("no entry attribute in % x", req.data)
	return nil
}

// An any-DSCP key goes out as DSCP 255 (L3DSR_DSCP_ANY), the DSCP after the
// rewrite as L3DSR_ENTRY_A_DSCP_SET, in every command; replies decode back
// to the same entry.
func TestAnyDSCPOnTheWire(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	a := netip.MustParseAddr
	e := Entry{AnyDSCP: true, DSCP: 17, Local: a("10.1.0.7"), VIP: a("10.0.0.3"), SetDSCP: dscpPtr(0)}
	must(t, c.Add(e, false))
	want := bytes.Join([][]byte{nla(entryAttrFamily, u8(2)), nla(entryAttrDSCP, u8(255)),
		nla(entryAttrLocal, addr("10.1.0.7")), nla(entryAttrVIP, addr("10.0.0.3")), nla(entryAttrDSCPSet, u8(0))}, nil)
	if got := entryAttrs(t, k.requests[0]); !bytes.Equal(got, want) {
		t.Errorf("ADD sent\n% x\nwant\n% x", got, want)
	}

	key := Key{AnyDSCP: true, Local: a("10.1.0.7")}
	got, err := c.Get(key)
	must(t, err)
	if got.String() != "IPv4 DSCP any local 10.1.0.7 -> VIP 10.0.0.3, DSCP set to 0" || !got.AnyDSCP || got.DSCP != 0 ||
		got.SetDSCP == nil || *got.SetDSCP != 0 {
		t.Errorf("GET decoded %+v (%v)", got, got)
	}
	wantKey := bytes.Join([][]byte{nla(entryAttrFamily, u8(2)), nla(entryAttrDSCP, u8(255)), nla(entryAttrLocal, addr("10.1.0.7"))}, nil)
	if got := entryAttrs(t, k.requests[len(k.requests)-1]); !bytes.Equal(got, wantKey) {
		t.Errorf("GET sent\n% x\nwant\n% x", got, wantKey)
	}

	coded := Entry{DSCP: 9, VIP: a("2001:db8::9"), SetDSCP: dscpPtr(46)}
	must(t, c.Replace([]Entry{e, coded}))
	var staged []byte
	for _, r := range k.requests {
		if r.cmd == cmdReplaceAdd {
			staged = r.data
		}
	}
	wantV6 := nla(attrEntry|nested, nla(entryAttrFamily, u8(10)), nla(entryAttrDSCP, u8(9)),
		nla(entryAttrVIP, addr("2001:db8::9")), nla(entryAttrDSCPSet, u8(46)))
	if !bytes.Contains(staged, nla(attrEntry|nested, want)) || !bytes.Contains(staged, wantV6) {
		t.Errorf("REPLACE_ADD sent % x", staged)
	}
	list, _ := contents(t, c)
	if len(list) != 2 || !list[0].AnyDSCP && !list[1].AnyDSCP {
		t.Errorf("dump: %v", list)
	}

	must(t, c.Delete(key))
	if got := entryAttrs(t, k.requests[len(k.requests)-1]); !bytes.Equal(got, wantKey) {
		t.Errorf("DEL sent\n% x\nwant\n% x", got, wantKey)
	}
	if _, err := c.Get(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

// An any-DSCP entry without a local address, or a DSCP after the rewrite
// above 63, is refused before anything is sent.
func TestAnyDSCPValidation(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	a := netip.MustParseAddr
	const noLocal = "an any-DSCP entry needs --local: without it, it would capture every packet"
	if err := c.Add(Entry{AnyDSCP: true, VIP: a("10.0.0.1")}, false); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), noLocal) {
		t.Errorf("Add without local: %v", err)
	}
	if err := c.Replace([]Entry{{AnyDSCP: true, VIP: a("10.0.0.1")}}); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), noLocal) {
		t.Errorf("Replace without local: %v", err)
	}
	if err := c.Delete(Key{Family: dsrtypes.IPv4, AnyDSCP: true}); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), noLocal) {
		t.Errorf("Delete without local: %v", err)
	}
	if _, err := DelKey(Key{AnyDSCP: true}, "", netip.Addr{}); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), noLocal) {
		t.Errorf("DelKey without local: %v", err)
	}
	err := c.Add(Entry{DSCP: 1, VIP: a("10.0.0.1"), SetDSCP: dscpPtr(64)}, false)
	if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), "--set-dscp 64 is out of range: use 0-63") {
		t.Errorf("SetDSCP 64: %v", err)
	}
	if len(k.requests) != 0 {
		t.Errorf("%d requests reached the kernel, want none", len(k.requests))
	}
	// Two any-DSCP entries with different ignored codes are one key.
	err = c.Replace([]Entry{{AnyDSCP: true, DSCP: 1, Local: a("10.1.0.1"), VIP: a("10.0.0.1")}, {AnyDSCP: true, DSCP: 2, Local: a("10.1.0.1"), VIP: a("10.0.0.2")}})
	if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), "same key (IPv4 DSCP any local 10.1.0.1)") {
		t.Errorf("Replace with one any-DSCP key twice: %v", err)
	}
}

// A version 1 module's refusal of what version 2 added says to update and
// reload the module; its refusal of a plain entry is left as it is.
func TestOlderModule(t *testing.T) {
	k := newFakeKernel(t)
	k.v1 = true
	c := k.client()
	a := netip.MustParseAddr
	const older = "the xt_DADDR module is older than this l3dsr CLI"
	for _, e := range []Entry{
		{AnyDSCP: true, Local: a("10.1.0.7"), VIP: a("10.0.0.3")},
		{DSCP: 5, VIP: a("10.0.0.5"), SetDSCP: dscpPtr(0)},
	} {
		err := c.Add(e, false)
		if err == nil || !strings.Contains(err.Error(), older) || !strings.Contains(err.Error(), "modprobe -r xt_DADDR && modprobe xt_DADDR") {
			t.Errorf("Add(%v) on a version 1 module: %v", e, err)
		}
		if err := c.Replace([]Entry{e}); err == nil || !strings.Contains(err.Error(), older) {
			t.Errorf("Replace(%v) on a version 1 module: %v", e, err)
		}
	}
	if _, err := c.Get(Key{AnyDSCP: true, Local: a("10.1.0.7")}); err == nil || !strings.Contains(err.Error(), older) {
		t.Errorf("Get any-DSCP on a version 1 module: %v", err)
	}
	must(t, c.Add(Entry{DSCP: 5, VIP: a("10.0.0.5")}, false))
	k.fail = func(request) (unix.Errno, string, uint32) { return unix.ERANGE, "integer out of range", 0 }
	if err := c.Add(Entry{DSCP: 6, VIP: a("10.0.0.6")}, false); err == nil || strings.Contains(err.Error(), older) {
		t.Errorf("a plain entry's ERANGE: %v, want it without the older-module text", err)
	}
}

// The JSON writes "dscp": "any" and "set_dscp" only when set, and reads
// back what it wrote; the text table shows "any" and the DSCP set.
func TestAnyDSCPFormats(t *testing.T) {
	a := netip.MustParseAddr
	entries := []Entry{
		{Family: dsrtypes.IPv4, AnyDSCP: true, Local: a("10.1.0.7"), VIP: a("10.0.0.3"), SetDSCP: dscpPtr(0), Packets: 4, Bytes: 400},
		{Family: dsrtypes.IPv4, DSCP: 10, VIP: a("10.0.0.1"), SetDSCP: dscpPtr(46)},
		{Family: dsrtypes.IPv4, DSCP: 11, Local: a("10.1.0.7"), VIP: a("10.0.0.2")},
	}
	var js bytes.Buffer
	must(t, WriteEntries(&js, entries, "json"))
	for _, want := range []string{
		`"dscp": "any",
    "local": "10.1.0.7",
    "vip": "10.0.0.3",
    "set_dscp": 0,`,
		`"dscp": 10,
    "local": "any",
    "vip": "10.0.0.1",
    "set_dscp": 46,`,
		`"dscp": 11,
    "local": "10.1.0.7",
    "vip": "10.0.0.2",
    "packets": 0,`,
	} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks\n%s\nin\n%s", want, js.String())
		}
	}
	back, err := readTable(bytes.NewReader(js.Bytes()))
	must(t, err)
	var again bytes.Buffer
	must(t, WriteEntries(&again, back, "json"))
	// Counters are not read back; the rest is.
	if want := strings.ReplaceAll(strings.ReplaceAll(js.String(), `"packets": 4`, `"packets": 0`), `"bytes": 400`, `"bytes": 0`); again.String() != want {
		t.Errorf("round trip:\n%s\nwant\n%s", again.String(), want)
	}

	var txt bytes.Buffer
	must(t, WriteEntries(&txt, entries, "table"))
	want := `FAMILY  DSCP  LOCAL     VIP       PACKETS  BYTES  SET-DSCP
ipv4    10    any       10.0.0.1  0        0      46
ipv4    11    10.1.0.7  10.0.0.2  0        0      -
ipv4    any   10.1.0.7  10.0.0.3  4        400    0
`
	if txt.String() != want {
		t.Errorf("table:\n%s\nwant\n%s", txt.String(), want)
	}

	for in, wantErr := range map[string]string{
		`[{"family": "ipv4", "dscp": "any", "vip": "10.0.0.1"}]`:                                      `table:1: entry 0: "dscp" "any" needs a "local" address: without it, the entry would capture every packet`,
		`[{"family": "ipv4", "dscp": 1, "vip": "10.0.0.1", "set_dscp": 64}]`:                          `"set_dscp" 64 is not a code: give the DSCP after the rewrite, 0-63`,
		`[{"family": "ipv4", "dscp": 1, "vip": "10.0.0.1", "set_dscp": "0"}]`:                         `"set_dscp" "0" is not a code`,
		`[{"family": "ipv4", "dscp": "all", "vip": "10.0.0.1"}]`:                                      `"dscp": DSCP "all" is not a number`,
		`[{"family": "ipv4", "dscp": "ANY", "local": "10.1.0.1", "vip": "10.0.0.1", "mode": "addr"}]`: `unknown field "mode": the fields are family, dscp, local, vip, set_dscp`,
	} {
		if _, err := readTable(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: %v, want %q", in, err, wantErr)
		}
	}
}

// The lookup order lets a (DSCP, local) or (DSCP, any local) entry take
// packets an any-DSCP entry of another VIP expects: both ways round, that
// is a warning; other pairs are not.
func TestShadowing(t *testing.T) {
	a := netip.MustParseAddr
	anyA := Entry{AnyDSCP: true, Local: a("10.1.1.5"), VIP: a("10.0.0.2")}
	codedLocal := Entry{DSCP: 10, Local: a("10.1.1.5"), VIP: a("10.0.0.1")}
	codedAny := Entry{DSCP: 12, VIP: a("10.0.0.9")}
	const wantA = "DSCP 10 to 10.1.1.5 goes to VIP 10.0.0.1, not VIP 10.0.0.2's any-DSCP entry: (DSCP, local) is looked up first"
	const wantB = "DSCP 12 to 10.1.1.5 goes to VIP 10.0.0.9 (DSCP 12, any local address), not VIP 10.0.0.2's any-DSCP entry: (DSCP, any local) is looked up before (any DSCP, local)"
	tests := []struct {
		name  string
		table []Entry
		e     Entry
		want  []string
	}{
		{"coded local after any", []Entry{anyA}, codedLocal, []string{wantA}},
		{"any after coded local", []Entry{codedLocal}, anyA, []string{wantA}},
		{"coded any-local after any", []Entry{anyA}, codedAny, []string{wantB}},
		{"any after both", []Entry{codedAny, codedLocal}, anyA, []string{wantA, wantB}},
		{"same VIP", []Entry{anyA}, Entry{DSCP: 10, Local: a("10.1.1.5"), VIP: a("10.0.0.2")}, nil},
		{"other local", []Entry{anyA}, Entry{DSCP: 10, Local: a("10.1.1.6"), VIP: a("10.0.0.1")}, nil},
		{"other family", []Entry{anyA}, Entry{DSCP: 10, VIP: a("2001:db8::1")}, nil},
		{"two coded", []Entry{codedAny}, codedLocal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shadowing(tt.table, tt.e)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
