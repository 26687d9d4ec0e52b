package realserver

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/internal/errclass"
)

// Codes are the DSCP codes of one dscp-mode VIP. A VIP may have several:
// two director clusters that mark it differently, or a VIP moving from one
// code to another without going dark (add the new code on every real
// server, move the directors, remove the old code).
type Codes []uint8

// MarshalJSON writes the codes as a list of numbers (encoding/json would
// write a []uint8 as base64).
func (c Codes) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, d := range c {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(d), 10)
	}
	return append(b, ']'), nil
}

// String lists the codes as "19, 20".
func (c Codes) String() string {
	s := make([]string, len(c))
	for i, d := range c {
		s[i] = strconv.Itoa(int(d))
	}
	return strings.Join(s, ", ")
}

// ErrNoSuchCode is matched (errors.Is) by DownCode's error for a code the
// VIP does not have (or for any code, when the VIP is in ipip or dr mode,
// which use none): the command line is wrong, and nothing was changed.
var ErrNoSuchCode = errors.New("no such DSCP code for the VIP")

// codeRecord is one code of a dscp-mode VIP, and whether Up added its
// mapping.
type codeRecord struct {
	DSCP         uint8 `json:"dscp"`
	AddedMapping bool  `json:"added_mapping,omitempty"`
}

// codes lists the record's codes, in order (ascending).
func (r *vipRecord) codes() Codes {
	if len(r.Codes) == 0 {
		return nil
	}
	out := make(Codes, len(r.Codes))
	for i, c := range r.Codes {
		out[i] = c.DSCP
	}
	return out
}

// code is the index of d among r's codes, -1 if r does not have it.
func (r *vipRecord) code(d uint8) int {
	return slices.IndexFunc(r.Codes, func(c codeRecord) bool { return c.DSCP == d })
}

// addCode makes sure r has d (kept in ascending order) and returns its index.
func (r *vipRecord) addCode(d uint8) int {
	if i := r.code(d); i >= 0 {
		return i
	}
	i, _ := slices.BinarySearchFunc(r.Codes, d, func(c codeRecord, d uint8) int { return int(c.DSCP) - int(d) })
	r.Codes = slices.Insert(r.Codes, i, codeRecord{DSCP: d})
	return i
}

// withCode is r's Config for its code d: the unit Up sets up, and the
// mapping Down removes.
func (r *vipRecord) withCode(d uint8) Config {
	c := r.Config
	c.DSCP = &d
	return c
}

// first is r's Config with its first code (none in ipip and dr mode): what
// Show and Applied report of the VIP.
func (r *vipRecord) first() Config {
	if len(r.Codes) == 0 {
		return r.Config
	}
	return r.withCode(r.Codes[0].DSCP)
}

// String names the VIP with all its codes: "VIP 10.0.0.1 (dscp, DSCP 19, 20)".
func (r *vipRecord) String() string { return r.Config.Describe(r.codes()) }

// fromLegacy reads a record written by a version that gave a VIP one code:
// the code in the Config's dscp and its added_mapping beside it.
func (r *vipRecord) fromLegacy() {
	if len(r.Codes) == 0 && r.DSCP != nil {
		r.Codes = []codeRecord{{DSCP: *r.DSCP, AddedMapping: r.AddedMapping}}
	}
	r.DSCP, r.AddedMapping = nil, false
}

// toLegacy fills the one-code fields with the first code, so that the
// previous version, should it run again, reads a VIP it can take down (its
// first code) instead of a dscp-mode VIP without a code.
func (r vipRecord) toLegacy() vipRecord {
	if len(r.Codes) > 0 {
		d := r.Codes[0].DSCP
		r.DSCP, r.AddedMapping = &d, r.Codes[0].AddedMapping
	}
	return r
}

func noSuchCodef(format string, a ...any) error {
	return errclass.New(ErrNoSuchCode, format, a...)
}
