package dsrtypes

import (
	"fmt"
	"strconv"
	"strings"
)

// Value is what every type here is as a flag (pflag.Value).
type Value interface {
	Set(string) error
	String() string
	Type() string
}

// Flag is a Value as the flag it is given to: Prefix starts the value's
// parse error so that it names the flag ("--vip " + `"x" is not an IP
// address`), and String is the text given (empty until then), for messages
// and so that help shows no default for an unset flag.
type Flag struct {
	Value
	Prefix string
	text   string
}

// Set parses s into the value, its error prefixed.
func (f *Flag) Set(s string) error {
	if err := f.Value.Set(s); err != nil {
		return fmt.Errorf("%s%w", f.Prefix, err)
	}
	f.text = s
	return nil
}

func (f *Flag) String() string { return f.text }

// Parsed is a Value that reads into Dst with Parse, for a value whose type
// is not one of this package's (netip.AddrPort, an MSS); Name names it in
// flag help. Its String is empty: give it as a Flag, which keeps the text.
type Parsed[T any] struct {
	Dst   *T
	Parse func(string) (T, error)
	Name  string
}

// Set parses s into Dst; Dst changes only when s parses.
func (p Parsed[T]) Set(s string) error { return set(p.Dst, p.Parse, s) }

func (p Parsed[T]) String() string { return "" }

// Type names the value in flag help.
func (p Parsed[T]) Type() string { return p.Name }

// ParseMSS reads a TCP maximum segment size: a decimal number of bytes. Its
// range is the caller's to check (realserver.Config does); ParseMSS refuses
// only what is no number of bytes.
func ParseMSS(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, invalidf("%q is not a valid MSS: give a number of bytes, 536-65495", s)
	}
	return uint16(n), nil
}
