package maptable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// The JSON of a table is an array of entries, as 'l3dsr rule list -o json'
// prints it and 'l3dsr rule replace -f' reads it:
//
//	[{"family": "ipv4", "dscp": 1, "local": "any", "vip": "10.0.0.1", "packets": 0, "bytes": 0},
//	 {"family": "ipv4", "dscp": "any", "local": "10.1.0.7", "vip": "10.0.0.2", "set_dscp": 0, "packets": 0, "bytes": 0}]
//
// "dscp" is the code as a number, or the string "any" for an any-DSCP
// entry (addr mode): one field for the one key part, as --dscp takes it,
// rather than a boolean beside a number that would then mean nothing.
// "set_dscp" (the DSCP after the rewrite) is there only when set, so that
// the JSON of a table without it is what it was before.

// entryJSON is an entry as it is written.
type entryJSON struct {
	Family  string `json:"family"`
	DSCP    any    `json:"dscp"` // uint8, or "any"
	Local   string `json:"local"`
	VIP     string `json:"vip"`
	SetDSCP *uint8 `json:"set_dscp,omitempty"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// MarshalJSON writes e as one entry of a table's JSON.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{Family: e.Key().Family.Name(), DSCP: uint8(e.DSCP), Local: localString(e.Local), VIP: e.VIP.String(), Packets: e.Packets, Bytes: e.Bytes}
	if e.AnyDSCP {
		j.DSCP = "any"
	}
	if e.SetDSCP != nil {
		d := uint8(*e.SetDSCP)
		j.SetDSCP = &d
	}
	return json.Marshal(j)
}

// rawEntry is an entry as it is read: each field raw, so that a bad value
// can be named as it was written.
type rawEntry struct {
	Family  json.RawMessage `json:"family"`
	DSCP    json.RawMessage `json:"dscp"`
	Local   json.RawMessage `json:"local"`
	VIP     json.RawMessage `json:"vip"`
	SetDSCP json.RawMessage `json:"set_dscp"`
	Packets json.RawMessage `json:"packets"`
	Bytes   json.RawMessage `json:"bytes"`
}

// A tableError is what is wrong with a table's JSON, and where. It matches
// errInvalid.
type tableError struct {
	// Line is the line of the problem; 0 when it is the whole table's.
	Line  int
	Msg   string
	empty bool // the input is empty: the name is the subject of Msg
}

// in is the error as it names the file (or standard input) the table came
// from: "table.json:3: entry 2: ...".
func (e *tableError) in(name string) string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", name, e.Line, e.Msg)
	case e.empty:
		return name + " " + e.Msg
	}
	return name + ": " + e.Msg
}

func (e *tableError) Error() string        { return e.in("table") }
func (e *tableError) Is(target error) bool { return target == errInvalid }

const (
	hintArray = "the file must be a JSON array as 'l3dsr rule list -o json' prints it"
	example   = `{"family": "ipv4", "dscp": 1, "local": "any", "vip": "10.0.0.1"}`
)

// readTable reads a table's JSON in one pass and checks every entry as Add
// would, and that no two share a key. Its errors are *tableError: the first
// problem, with its line, the entry's index (0 is the first), the bad value
// as written and the fix.
func readTable(r io.Reader) ([]Entry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading the table: %w", err)
	}
	rd := tableReader{data: data, lastLine: 1}
	return rd.read()
}

type tableReader struct {
	data []byte
	dec  *json.Decoder
	// lastOff and lastLine count lines incrementally: entries come in
	// order, and a count from the start for each would be quadratic.
	lastOff  int64
	lastLine int
}

func (rd *tableReader) lineAt(off int64) int {
	off = min(max(off, 0), int64(len(rd.data)))
	if off < rd.lastOff {
		rd.lastOff, rd.lastLine = 0, 1
	}
	rd.lastLine += bytes.Count(rd.data[rd.lastOff:off], []byte("\n"))
	rd.lastOff = off
	return rd.lastLine
}

func (rd *tableReader) errAt(line int, format string, a ...any) error {
	return &tableError{Line: line, Msg: fmt.Sprintf(format, a...)}
}

// syntax describes an error of the JSON itself.
func (rd *tableReader) syntax(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return rd.errAt(rd.lineAt(se.Offset), "not valid JSON: %v: %s", se, hintArray)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return rd.errAt(0, "the JSON ends early: the file must be a whole JSON array as 'l3dsr rule list -o json' prints it")
	case errors.As(err, &te):
		return rd.errAt(rd.lineAt(te.Offset), "%v: each entry is an object like %s", err, example)
	}
	return rd.errAt(0, "%v: %s", err, hintArray)
}

func (rd *tableReader) read() ([]Entry, error) {
	rd.dec = json.NewDecoder(bytes.NewReader(rd.data))
	dec := rd.dec
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &tableError{empty: true, Msg: "is empty: give a JSON array of entries ([] for an empty table), as 'l3dsr rule list -o json' prints it"}
		}
		return nil, rd.syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, rd.errAt(rd.lineAt(dec.InputOffset()), "the file must be a JSON array of entries, [ ... ], as 'l3dsr rule list -o json' prints it; it starts with %s", tokenString(tok))
	}
	entries := []Entry{}
	seen := map[Key]int{}
	for i := 0; dec.More(); i++ {
		// InputOffset is at the end of the previous value: step over the
		// separator and blanks to the entry's first byte for its line.
		start := dec.InputOffset()
		for start < int64(len(rd.data)) && strings.IndexByte(", \t\r\n", rd.data[start]) >= 0 {
			start++
		}
		line := rd.lineAt(start)
		var raw rawEntry
		if err := dec.Decode(&raw); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field == "" {
				return nil, rd.errAt(line, "entry %d is not an object: write it as %s", i, example)
			}
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, rd.errAt(line, "entry %d: unknown field %s: the fields are family, dscp, local, vip, set_dscp (packets and bytes are ignored)", i, f)
			}
			return nil, rd.syntax(err)
		}
		e, err := raw.entry()
		if err != nil {
			return nil, rd.errAt(line, "entry %d: %v", i, err)
		}
		k := e.Key()
		if j, dup := seen[k]; dup {
			return nil, rd.errAt(line, "entry %d has the key of entry %d (%v): a key may map to one VIP only, keep one of them", i, j, k)
		}
		seen[k] = i
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, rd.syntax(err)
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, rd.syntax(err)
		}
		return nil, rd.errAt(rd.lineAt(dec.InputOffset()), "%s after the array: the file must hold one JSON array only", tokenString(tok))
	}
	if len(entries) > maxEntries {
		return nil, rd.errAt(0, "%d entries are more than a table holds (%d): split the services over more real servers", len(entries), maxEntries)
	}
	return entries, nil
}

func tokenString(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return string(t)
	case string:
		return fmt.Sprintf("%q", t)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// jsonString reads a JSON string (null reads as ""); ok is false for any
// other value. Strings without escapes, all of a good table, are sliced
// rather than decoded.
func jsonString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// isNumber tells whether raw is a JSON number, or a string holding one
// (as encoding/json's Number takes it).
func isNumber(raw json.RawMessage) bool {
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return true // the decoder checked the syntax
	}
	var num json.Number
	return json.Unmarshal(raw, &num) == nil
}

// jsonNumber is the text of a number isNumber accepts.
func jsonNumber(raw json.RawMessage) string {
	var num json.Number
	json.Unmarshal(raw, &num)
	return string(num)
}

// smallUint reads a number of up to three digits without allocating: the
// DSCP of every entry of a good table.
func smallUint(raw json.RawMessage) (uint, bool) {
	if len(raw) == 0 || len(raw) > 3 {
		return 0, false
	}
	var v uint
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint(c-'0')
	}
	return v, true
}

// family reads the family; the names a good table has are matched without
// allocating.
func family(raw json.RawMessage) (f dsrtypes.Family, s string, ok bool) {
	switch string(raw) { // no allocation: the conversion is only compared
	case `"ipv4"`:
		return dsrtypes.IPv4, "ipv4", true
	case `"ipv6"`:
		return dsrtypes.IPv6, "ipv6", true
	}
	if s, ok = jsonString(raw); !ok {
		return 0, s, false
	}
	f, err := dsrtypes.ParseFamily(s)
	return f, s, err == nil
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// entry checks one entry of a table's JSON.
func (raw *rawEntry) entry() (Entry, error) {
	var e Entry

	if raw.Family == nil {
		return e, fmt.Errorf(`"family" is missing: give "ipv4" or "ipv6" (e.g. "family": "ipv4")`)
	}
	var fam string
	var ok bool
	if e.Family, fam, ok = family(raw.Family); !ok {
		if _, isStr := jsonString(raw.Family); !isStr {
			return e, fmt.Errorf(`"family" %s is not a string: give "ipv4" or "ipv6"`, raw.Family)
		}
		return e, fmt.Errorf(`"family" %q is unknown: give "ipv4" or "ipv6"`, fam)
	}
	var err error

	// dscp: a number 0-63 (a string in decimal or hex, as --dscp takes it,
	// is accepted too), or "any".
	if raw.DSCP == nil {
		return e, fmt.Errorf(`"dscp" is missing: give the code 0-%d or "any", e.g. "dscp": 10`, dsrtypes.MaxDSCP)
	}
	if v, ok := smallUint(raw.DSCP); ok && v <= uint(dsrtypes.MaxDSCP) {
		e.DSCP = dsrtypes.DSCP(v)
	} else if isNumber(raw.DSCP) {
		num := jsonNumber(raw.DSCP)
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f != math.Trunc(f) || f < 0 {
			return e, fmt.Errorf(`"dscp" %s is not a code: give a whole number 0-%d`, num, dsrtypes.MaxDSCP)
		}
		if f > float64(dsrtypes.MaxDSCP) {
			return e, fmt.Errorf(`"dscp" %s is out of range: use 0-%d`, num, dsrtypes.MaxDSCP)
		}
		e.DSCP = dsrtypes.DSCP(f)
	} else if s, ok := jsonString(raw.DSCP); ok && strings.EqualFold(strings.TrimSpace(s), "any") {
		e.AnyDSCP = true
	} else if ok {
		if e.DSCP, err = dsrtypes.ParseDSCP(s); err != nil {
			return e, fmt.Errorf(`"dscp": %v`, err)
		}
	} else {
		return e, fmt.Errorf(`"dscp" %s is not a number: give the code 0-%d, e.g. "dscp": 10`, raw.DSCP, dsrtypes.MaxDSCP)
	}

	// local: "any" (or left out) or an address.
	if !isNull(raw.Local) {
		s, ok := jsonString(raw.Local)
		if !ok {
			return e, fmt.Errorf(`"local" %s is not a string: give "any" or a local address`, raw.Local)
		}
		if t := strings.TrimSpace(s); !strings.EqualFold(t, "any") {
			if e.Local, err = jsonAddr("local", t); err != nil {
				return e, err
			}
		}
	}

	if !isNull(raw.SetDSCP) {
		v, ok := smallUint(raw.SetDSCP)
		if !ok || v > uint(dsrtypes.MaxDSCP) {
			return e, fmt.Errorf(`"set_dscp" %s is not a code: give the DSCP after the rewrite, 0-%d, or leave it out to keep the packet's`, raw.SetDSCP, dsrtypes.MaxDSCP)
		}
		d := dsrtypes.DSCP(v)
		e.SetDSCP = &d
	}

	if raw.VIP == nil {
		return e, fmt.Errorf(`"vip" is missing: give the address DSCP %s stands for, e.g. "vip": "10.0.0.1"`, dscpString(e.AnyDSCP, e.DSCP))
	}
	vs, ok := jsonString(raw.VIP)
	if !ok {
		return e, fmt.Errorf(`"vip" %s is not a string: give an address, e.g. "vip": "10.0.0.1"`, raw.VIP)
	}
	if e.VIP, err = jsonAddr("vip", strings.TrimSpace(vs)); err != nil {
		return e, err
	}

	// packets and bytes are read-back counters: ignored, but they must be
	// numbers if present (a string there is a sign of a broken file).
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{{"packets", raw.Packets}, {"bytes", raw.Bytes}} {
		if !isNull(c.v) && !isNumber(c.v) {
			return e, fmt.Errorf(`%q %s is not a number: it is a counter (ignored); give a number or leave it out`, c.name, c.v)
		}
	}

	if vf := dsrtypes.FamilyOf(e.VIP); vf != e.Family {
		return e, fmt.Errorf(`"vip" %s is %v but "family" is %q: make "family" %q or give an %v VIP`, e.VIP, vf, fam, vf.Name(), e.Family)
	}
	if e.AnyDSCP && !e.Local.IsValid() {
		return e, fmt.Errorf(`"dscp" "any" needs a "local" address: without it, the entry would capture every packet`)
	}
	if e.Local.IsValid() {
		if lf := dsrtypes.FamilyOf(e.Local); lf != e.Family {
			return e, fmt.Errorf(`"local" %s is %v but "family" and "vip" %s are %v: use addresses of one family`, e.Local, lf, e.VIP, e.Family)
		}
	}
	return e, e.Validate()
}

func jsonAddr(field, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%q is empty: give an IPv4 or IPv6 address", field)
	}
	a, err := netip.ParseAddr(s)
	if err == nil {
		return a, nil
	}
	if p, perr := netip.ParsePrefix(s); perr == nil {
		return netip.Addr{}, fmt.Errorf("%q %q is a prefix: give the address alone, e.g. %q", field, s, p.Addr().String())
	}
	hint := `an IPv4 or IPv6 address`
	if field == "local" {
		hint = `"any" or a local IPv4 or IPv6 address`
	}
	return netip.Addr{}, fmt.Errorf("%q %q is not an IP address: give %s", field, s, hint)
}
