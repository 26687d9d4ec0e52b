package pcapcheck

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// DSCPSet is a set of DSCP codes (0..63) as a bitmap.
type DSCPSet uint64

// maxDSCP is the highest DSCP code, as the packet loop's arrays and masks
// want it.
const maxDSCP = uint8(dsrtypes.MaxDSCP)

// allMarked is every DSCP code but 0 (default forwarding).
const allMarked DSCPSet = ^DSCPSet(1)

// newDSCPSet returns the set of the given codes, or an error naming the
// first code out of range.
func newDSCPSet(codes ...int) (DSCPSet, error) {
	var s DSCPSet
	for _, c := range codes {
		if c < 0 || c > int(maxDSCP) {
			return 0, fmt.Errorf("DSCP %d is out of range: use 0-%d", c, maxDSCP)
		}
		s |= 1 << uint(c)
	}
	return s, nil
}

// has reports whether code is in the set.
func (s DSCPSet) has(code uint8) bool { return code <= maxDSCP && s&(1<<code) != 0 }

// Codes returns the codes of the set in ascending order.
func (s DSCPSet) Codes() []uint8 {
	var out []uint8
	for c := range maxDSCP + 1 {
		if s.has(c) {
			out = append(out, c)
		}
	}
	return out
}

// Set parses a list of codes and ranges, as --dscp takes it: "21,22",
// "1-63", "0x0a,5-7"; each code is read as dsrtypes.ParseDSCP reads it.
// It replaces the set, so that *DSCPSet is a pflag.Value.
func (s *DSCPSet) Set(list string) error {
	var set DSCPSet
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		lo, hi, isRange := strings.Cut(t, "-")
		a, err := dsrtypes.ParseDSCP(lo)
		if err != nil {
			return err
		}
		b := a
		if isRange {
			if b, err = dsrtypes.ParseDSCP(hi); err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("DSCP range %q runs backwards: write it low-high, e.g. %d-%d", t, b, a)
			}
		}
		for c := a; c <= b; c++ {
			set |= 1 << c
		}
	}
	*s = set
	return nil
}

// Type names the value in flag help.
func (*DSCPSet) Type() string { return "codes" }

// String lists the codes, with ranges: "1-3,10".
func (s DSCPSet) String() string {
	var b strings.Builder
	codes := s.Codes()
	for i := 0; i < len(codes); {
		j := i
		for j+1 < len(codes) && codes[j+1] == codes[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(codes[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(codes[j])))
		}
		i = j + 1
	}
	return b.String()
}
