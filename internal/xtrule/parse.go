package xtrule

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseRules reads the DADDR rules out of `iptables -t table -S` output
// (family f, backend v). Rules with other targets only count, for the rule
// numbers; policy and chain lines are skipped.
func ParseRules(f Family, v Variant, table, out string) ([]Rule, error) {
	var rules []Rule
	nums := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-A ") {
			continue
		}
		words, err := split(line)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		if len(words) < 2 {
			continue
		}
		chain := words[1]
		nums[chain]++
		r, ok, err := parseRule(words[2:])
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		if !ok {
			continue
		}
		r.Family, r.Backend, r.Table, r.Chain, r.Num, r.Line = f, v, table, chain, nums[chain], line
		if iface, ours := ourShape(line); ours && table == "raw" {
			r.Ours, r.Ingress = true, iface
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// parseRule reads the matches and target of one rule; ok is false for a
// rule whose target is not DADDR.
func parseRule(words []string) (r Rule, ok bool, err error) {
	r.DSCP = -1
	module := ""
	inTarget := false
	for _, c := range clauses(words) {
		opt, args := c.opt, c.args
		switch {
		case opt == "-j" || opt == "-g":
			if len(args) != 1 || opt == "-g" || args[0] != "DADDR" {
				return r, false, nil
			}
			inTarget = true
		case inTarget && opt == "--map":
			r.Map = true
		case inTarget && strings.HasPrefix(opt, "--set-daddr"):
			s, eq := strings.CutPrefix(opt, "--set-daddr=")
			if !eq {
				if len(args) != 1 {
					return r, false, fmt.Errorf("--set-daddr without an address")
				}
				s = args[0]
			}
			if r.VIP, err = parseHost(s); err != nil {
				return r, false, fmt.Errorf("--set-daddr %q: %w", s, err)
			}
		case inTarget:
			return r, false, fmt.Errorf("unknown DADDR option %s", opt)
		case opt == "-m" && len(args) == 1:
			if module = args[0]; module != "dscp" {
				r.Extra = append(r.Extra, c.String())
			}
		case module == "dscp" && (opt == "--dscp" || opt == "--dscp-class") && len(args) == 1:
			if r.DSCP, err = parseDSCP(opt, args[0]); err != nil {
				return r, false, err
			}
			r.NotDSCP = c.not
		case opt == "-d" && len(args) == 1 && !c.not:
			p, err := netip.ParsePrefix(args[0])
			if err == nil && p.Bits() == p.Addr().BitLen() {
				r.Dst = p.Addr()
				continue
			}
			r.Extra = append(r.Extra, c.String())
		default:
			r.Extra = append(r.Extra, c.String())
		}
	}
	if !inTarget {
		return r, false, nil
	}
	if r.Map == r.VIP.IsValid() {
		return r, false, fmt.Errorf("a DADDR rule needs --map or --set-daddr ADDR, not both or neither")
	}
	return r, true, nil
}

// clause is one option of a rule with its arguments, and whether a "!"
// negates it.
type clause struct {
	not  bool
	opt  string
	args []string
}

func (c clause) String() string {
	s := strings.Join(append([]string{c.opt}, c.args...), " ")
	if c.not {
		s = "! " + s
	}
	return s
}

// clauses groups words: an option ("-m", "--dport") takes the words up to
// the next option or "!".
func clauses(words []string) []clause {
	var out []clause
	not := false
	for _, w := range words {
		switch {
		case w == "!":
			not = true
		case strings.HasPrefix(w, "-") && len(w) > 1 && (w[1] == '-' || w[1] < '0' || w[1] > '9'):
			out = append(out, clause{not: not, opt: w})
			not = false
		case len(out) > 0:
			out[len(out)-1].args = append(out[len(out)-1].args, w)
		}
	}
	return out
}

// parseHost reads an address as -S prints it, with or without a full
// length prefix.
func parseHost(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Bits() != p.Addr().BitLen() {
			return netip.Addr{}, fmt.Errorf("not a single address")
		}
		return p.Addr(), nil
	}
	return netip.ParseAddr(s)
}

// dscpClasses are the names --dscp-class takes (xt_dscp's class table).
var dscpClasses = map[string]int{
	"CS0": 0, "BE": 0, "CS1": 8, "CS2": 16, "CS3": 24, "CS4": 32, "CS5": 40, "CS6": 48, "CS7": 56,
	"AF11": 10, "AF12": 12, "AF13": 14, "AF21": 18, "AF22": 20, "AF23": 22,
	"AF31": 26, "AF32": 28, "AF33": 30, "AF41": 34, "AF42": 36, "AF43": 38, "EF": 46,
}

// parseDSCP reads a dscp match value: decimal or 0x hex (-S prints hex),
// or a class name.
func parseDSCP(opt, s string) (int, error) {
	if opt == "--dscp-class" {
		if d, ok := dscpClasses[strings.ToUpper(s)]; ok {
			return d, nil
		}
		return 0, fmt.Errorf("--dscp-class %q is unknown", s)
	}
	d, err := strconv.ParseUint(s, 0, 8)
	if err != nil || d > 63 {
		return 0, fmt.Errorf("--dscp %q is not a code 0-63", s)
	}
	return int(d), nil
}

// split cuts an -S line into words; iptables quotes a word with spaces
// (a comment) in double quotes, with \" and \\ inside.
func split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == '"':
			quoted, in = !quoted, true
		case !quoted && (ch == ' ' || ch == '\t'):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
