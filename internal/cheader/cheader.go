// Package cheader reads the enums and #defines of a C uapi header, so that
// tests can check the Go constants that mirror it (maptable's against
// kmod/uapi/linux/l3dsr.h, internal/ipvs's against linux/ip_vs.h): one
// check, Mirror.Test, for both.
package cheader

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Header is what parse finds in a uapi header.
type Header struct {
	Values map[string]any      // int64 or string
	Enums  map[string][]string // first member -> members in order (enums may be anonymous)
}

var (
	reComment   = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	reEnum      = regexp.MustCompile(`(?s)enum\s*(\w*)\s*\{(.*?)\}\s*;`)
	reDefine    = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)(\(?)(.*)$`)
	reIdent     = regexp.MustCompile(`^[A-Za-z_]\w*$`)
	reToken     = regexp.MustCompile(`\s*((?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*|[A-Za-z_]\w*|<<|[()|+-])`)
	reUnsuffix  = regexp.MustCompile(`^(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$`)
	reContinued = regexp.MustCompile(`\\\n`)
)

// parse reads the enums and object-like #defines of a uapi header.
// Function-like macros and structs are not part of the comparison; any
// object-like #define it cannot evaluate is an error.
func parse(src string) (Header, error) {
	h := Header{Values: map[string]any{}, Enums: map[string][]string{}}
	src = reComment.ReplaceAllString(src, " ")
	src = reContinued.ReplaceAllString(src, " ")
	set := func(name string, v any) error {
		if _, dup := h.Values[name]; dup {
			return fmt.Errorf("%s defined twice", name)
		}
		h.Values[name] = v
		return nil
	}
	// Enums and #defines are read in the order of the header: each may use
	// the names defined before it.
	type item struct {
		at int
		m  []string
	}
	var items []item
	for _, loc := range reDefine.FindAllStringSubmatchIndex(src, -1) {
		items = append(items, item{loc[0], []string{"define", src[loc[2]:loc[3]], src[loc[4]:loc[5]], src[loc[6]:loc[7]]}})
	}
	for _, loc := range reEnum.FindAllStringSubmatchIndex(src, -1) {
		items = append(items, item{loc[0], []string{"enum", src[loc[2]:loc[3]], src[loc[4]:loc[5]]}})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].at < items[j].at })
	for _, it := range items {
		if it.m[0] == "define" {
			if err := h.define(it.m[1], it.m[2] == "(", strings.TrimSpace(it.m[3]), set); err != nil {
				return h, err
			}
			continue
		}
		if err := h.enum(it.m[1], it.m[2], set); err != nil {
			return h, err
		}
	}
	return h, nil
}

func (h Header) define(name string, funcLike bool, val string, set func(string, any) error) error {
	if funcLike || val == "" {
		return nil // NVERSION(v), include guards
	}
	if s, err := strconv.Unquote(val); err == nil && strings.HasPrefix(val, `"`) {
		return set(name, s)
	}
	n, err := h.eval(val)
	if err != nil {
		return fmt.Errorf("#define %s: %v", name, err)
	}
	return set(name, n)
}

func (h Header) enum(name, body string, set func(string, any) error) error {
	var members []string
	next := int64(0)
	for _, item := range strings.Split(body, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		ident, expr, hasValue := strings.Cut(item, "=")
		ident = strings.TrimSpace(ident)
		if !reIdent.MatchString(ident) {
			return fmt.Errorf("enum: cannot parse %q", item)
		}
		if hasValue {
			v, err := h.eval(strings.TrimSpace(expr))
			if err != nil {
				return fmt.Errorf("enum member %s: %v", ident, err)
			}
			next = v
		}
		if err := set(ident, next); err != nil {
			return err
		}
		members = append(members, ident)
		next++
	}
	if len(members) == 0 {
		return fmt.Errorf("empty enum %q", name)
	}
	h.Enums[members[0]] = members
	return nil
}

// eval evaluates the integer expressions of the header: numbers, earlier
// names, parentheses, |, <<, + and -, with C's precedence.
func (h Header) eval(expr string) (int64, error) {
	var toks []string
	rest := expr
	for strings.TrimSpace(rest) != "" {
		loc := reToken.FindStringSubmatchIndex(rest)
		if loc == nil || loc[0] != 0 {
			return 0, fmt.Errorf("cannot evaluate %q at %q", expr, rest)
		}
		toks = append(toks, rest[loc[2]:loc[3]])
		rest = rest[loc[1]:]
	}
	p := &exprParser{h: h, toks: toks}
	v, err := p.level(0)
	if err == nil && p.pos != len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if err != nil {
		return 0, fmt.Errorf("cannot evaluate %q: %v", expr, err)
	}
	return v, nil
}

type exprParser struct {
	h    Header
	toks []string
	pos  int
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

// levels are the binary operators by precedence, loosest first.
var levels = []map[string]func(a, b int64) int64{
	{"|": func(a, b int64) int64 { return a | b }},
	{"<<": func(a, b int64) int64 { return a << b }},
	{"+": func(a, b int64) int64 { return a + b }, "-": func(a, b int64) int64 { return a - b }},
}

// level parses operands joined by the operators of levels[i] and
// tighter, left to right.
func (p *exprParser) level(i int) (int64, error) {
	if i == len(levels) {
		return p.operand()
	}
	v, err := p.level(i + 1)
	for err == nil {
		op, ok := levels[i][p.peek()]
		if !ok {
			break
		}
		p.pos++
		var r int64
		r, err = p.level(i + 1)
		v = op(v, r)
	}
	return v, err
}

func (p *exprParser) operand() (int64, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "(":
		v, err := p.level(0)
		if err == nil && p.peek() != ")" {
			err = fmt.Errorf("missing )")
		}
		p.pos++
		return v, err
	case reUnsuffix.MatchString(t):
		return strconv.ParseInt(reUnsuffix.FindStringSubmatch(t)[1], 0, 64)
	case reIdent.MatchString(t):
		v, ok := p.h.Values[t].(int64)
		if !ok {
			return 0, fmt.Errorf("%q is not an integer defined before it is used", t)
		}
		return v, nil
	}
	return 0, fmt.Errorf("unexpected %q", t)
}
