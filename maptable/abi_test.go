package maptable

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"golang.org/x/sys/unix"
)

const uapiHeader = "../kmod/uapi/linux/l3dsr.h"

// goABI is every name of the uapi header with the value this package uses
// for it. The test fails if the header has a name that is not here, if a
// name here is not in the header, or if a value differs.
var goABI = map[string]any{
	"L3DSR_GENL_NAME":    FamilyName,
	"L3DSR_GENL_VERSION": int64(genlVersion),
	"L3DSR_MAX_ENTRIES":  int64(MaxEntries),
	"L3DSR_DSCP_MAX":     int64(dsrtypes.MaxDSCP),

	"L3DSR_CMD_UNSPEC":         int64(cmdUnspec),
	"L3DSR_CMD_MAP_ADD":        int64(cmdMapAdd),
	"L3DSR_CMD_MAP_DEL":        int64(cmdMapDel),
	"L3DSR_CMD_MAP_GET":        int64(cmdMapGet),
	"L3DSR_CMD_MAP_FLUSH":      int64(cmdMapFlush),
	"L3DSR_CMD_REPLACE_BEGIN":  int64(cmdReplaceBegin),
	"L3DSR_CMD_REPLACE_ADD":    int64(cmdReplaceAdd),
	"L3DSR_CMD_REPLACE_COMMIT": int64(cmdReplaceCommit),
	"L3DSR_CMD_REPLACE_ABORT":  int64(cmdReplaceAbort),
	"L3DSR_CMD_STATS_GET":      int64(cmdStatsGet),
	"__L3DSR_CMD_MAX":          int64(cmdMax + 1),
	"L3DSR_CMD_MAX":            int64(cmdMax),

	"L3DSR_A_UNSPEC":     int64(attrUnspec),
	"L3DSR_A_ENTRY":      int64(attrEntry),
	"L3DSR_A_REPLACE_ID": int64(attrReplaceID),
	"L3DSR_A_GENERATION": int64(attrGeneration),
	"L3DSR_A_STATS":      int64(attrStats),
	"L3DSR_A_FAMILY":     int64(attrFamily),
	"L3DSR_A_PAD":        int64(attrPad),
	"__L3DSR_A_MAX":      int64(attrMax + 1),
	"L3DSR_A_MAX":        int64(attrMax),

	"L3DSR_ENTRY_A_UNSPEC":  int64(entryAttrUnspec),
	"L3DSR_ENTRY_A_FAMILY":  int64(entryAttrFamily),
	"L3DSR_ENTRY_A_DSCP":    int64(entryAttrDSCP),
	"L3DSR_ENTRY_A_LOCAL":   int64(entryAttrLocal),
	"L3DSR_ENTRY_A_VIP":     int64(entryAttrVIP),
	"L3DSR_ENTRY_A_PACKETS": int64(entryAttrPackets),
	"L3DSR_ENTRY_A_BYTES":   int64(entryAttrBytes),
	"L3DSR_ENTRY_A_PAD":     int64(entryAttrPad),
	"__L3DSR_ENTRY_A_MAX":   int64(entryAttrMax + 1),
	"L3DSR_ENTRY_A_MAX":     int64(entryAttrMax),

	"L3DSR_STATS_A_UNSPEC":    int64(statsAttrUnspec),
	"L3DSR_STATS_A_REWRITTEN": int64(statsAttrRewritten),
	"L3DSR_STATS_A_NO_ENTRY":  int64(statsAttrNoEntry),
	"L3DSR_STATS_A_ERRORS":    int64(statsAttrErrors),
	"L3DSR_STATS_A_ENTRIES":   int64(statsAttrEntries),
	"L3DSR_STATS_A_PAD":       int64(statsAttrPad),
	"__L3DSR_STATS_A_MAX":     int64(statsAttrMax + 1),
	"L3DSR_STATS_A_MAX":       int64(statsAttrMax),
}

// goEnums lists each enum's members in the order the Go side assumes.
var goEnums = map[string][]string{
	"l3dsr_cmd": {"L3DSR_CMD_UNSPEC", "L3DSR_CMD_MAP_ADD", "L3DSR_CMD_MAP_DEL", "L3DSR_CMD_MAP_GET",
		"L3DSR_CMD_MAP_FLUSH", "L3DSR_CMD_REPLACE_BEGIN", "L3DSR_CMD_REPLACE_ADD",
		"L3DSR_CMD_REPLACE_COMMIT", "L3DSR_CMD_REPLACE_ABORT", "L3DSR_CMD_STATS_GET", "__L3DSR_CMD_MAX"},
	"l3dsr_attr": {"L3DSR_A_UNSPEC", "L3DSR_A_ENTRY", "L3DSR_A_REPLACE_ID", "L3DSR_A_GENERATION",
		"L3DSR_A_STATS", "L3DSR_A_FAMILY", "L3DSR_A_PAD", "__L3DSR_A_MAX"},
	"l3dsr_entry_attr": {"L3DSR_ENTRY_A_UNSPEC", "L3DSR_ENTRY_A_FAMILY", "L3DSR_ENTRY_A_DSCP",
		"L3DSR_ENTRY_A_LOCAL", "L3DSR_ENTRY_A_VIP", "L3DSR_ENTRY_A_PACKETS", "L3DSR_ENTRY_A_BYTES",
		"L3DSR_ENTRY_A_PAD", "__L3DSR_ENTRY_A_MAX"},
	"l3dsr_stats_attr": {"L3DSR_STATS_A_UNSPEC", "L3DSR_STATS_A_REWRITTEN", "L3DSR_STATS_A_NO_ENTRY",
		"L3DSR_STATS_A_ERRORS", "L3DSR_STATS_A_ENTRIES", "L3DSR_STATS_A_PAD", "__L3DSR_STATS_A_MAX"},
}

// cHeader is what parseHeader finds in a uapi header.
type cHeader struct {
	values map[string]any      // int64 or string
	enums  map[string][]string // enum name -> members in order
}

var (
	reComment = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	reEnum    = regexp.MustCompile(`(?s)enum\s+(\w*)\s*\{(.*?)\}\s*;`)
	reDefine  = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)(?:[ \t]+(.*?))?[ \t]*$`)
	reIdent   = regexp.MustCompile(`^[A-Za-z_]\w*$`)
	reExpr    = regexp.MustCompile(`^\(?\s*([A-Za-z_]\w*|\d+)\s*(?:([-+|])\s*([A-Za-z_]\w*|\d+))?\s*\)?$`)
)

// parseHeader parses the enums and #defines of a uapi header. It fails on
// anything it does not understand, rather than skip it.
func parseHeader(src string) (cHeader, error) {
	h := cHeader{values: map[string]any{}, enums: map[string][]string{}}
	src = reComment.ReplaceAllString(src, " ")
	set := func(name string, v any) error {
		if _, dup := h.values[name]; dup {
			return fmt.Errorf("%s defined twice", name)
		}
		h.values[name] = v
		return nil
	}
	for _, m := range reEnum.FindAllStringSubmatch(src, -1) {
		name := m[1]
		if name == "" {
			return h, fmt.Errorf("anonymous enum: give it a name")
		}
		next := int64(0)
		for _, item := range strings.Split(m[2], ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			ident, expr, hasValue := strings.Cut(item, "=")
			ident = strings.TrimSpace(ident)
			if !reIdent.MatchString(ident) {
				return h, fmt.Errorf("enum %s: cannot parse %q", name, item)
			}
			if hasValue {
				v, err := h.eval(strings.TrimSpace(expr))
				if err != nil {
					return h, fmt.Errorf("enum %s: %s: %v", name, ident, err)
				}
				next = v
			}
			if err := set(ident, next); err != nil {
				return h, err
			}
			h.enums[name] = append(h.enums[name], ident)
			next++
		}
	}
	for _, m := range reDefine.FindAllStringSubmatch(src, -1) {
		name, val := m[1], strings.TrimSpace(m[2])
		if val == "" {
			continue // include guard
		}
		var v any
		if s, err := strconv.Unquote(val); err == nil && strings.HasPrefix(val, `"`) {
			v = s
		} else {
			n, err := h.eval(val)
			if err != nil {
				return h, fmt.Errorf("#define %s: %v", name, err)
			}
			v = n
		}
		if err := set(name, v); err != nil {
			return h, err
		}
	}
	return h, nil
}

// eval evaluates the integer expressions uapi headers use here: a number, a
// name, or "(A - B)", "(A + B)", "(A | B)".
func (h cHeader) eval(expr string) (int64, error) {
	m := reExpr.FindStringSubmatch(expr)
	if m == nil {
		return 0, fmt.Errorf("cannot evaluate %q", expr)
	}
	operand := func(s string) (int64, error) {
		if n, err := strconv.ParseInt(s, 0, 64); err == nil {
			return n, nil
		}
		v, ok := h.values[s].(int64)
		if !ok {
			return 0, fmt.Errorf("%q is not an integer defined before it is used", s)
		}
		return v, nil
	}
	a, err := operand(m[1])
	if err != nil || m[2] == "" {
		return a, err
	}
	b, err := operand(m[3])
	if err != nil {
		return 0, err
	}
	switch m[2] {
	case "-":
		return a - b, nil
	case "+":
		return a + b, nil
	}
	return a | b, nil
}

// compareABI lists every difference between a parsed header and the Go side.
func compareABI(h cHeader, goValues map[string]any, goEnumOrder map[string][]string) []string {
	var diffs []string
	for name, hv := range h.values {
		gv, ok := goValues[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s = %v is in the header but has no Go constant", name, hv))
		case gv != hv:
			diffs = append(diffs, fmt.Sprintf("%s: header %v, Go %v", name, hv, gv))
		}
	}
	for name, gv := range goValues {
		if _, ok := h.values[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %v is in Go but not in the header", name, gv))
		}
	}
	for enum, want := range goEnumOrder {
		if got := h.enums[enum]; strings.Join(got, ",") != strings.Join(want, ",") {
			diffs = append(diffs, fmt.Sprintf("enum %s: header order %v, Go order %v", enum, got, want))
		}
	}
	for enum := range h.enums {
		if _, ok := goEnumOrder[enum]; !ok {
			diffs = append(diffs, fmt.Sprintf("enum %s is in the header but not known to Go", enum))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func TestABIMatchesUAPIHeader(t *testing.T) {
	src, err := os.ReadFile(uapiHeader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(string(src))
	if err != nil {
		t.Fatalf("parsing %s: %v", uapiHeader, err)
	}
	if len(h.enums) != 4 || len(h.values) < 40 {
		t.Fatalf("parsed only %d enums and %d names from %s: the parser is broken", len(h.enums), len(h.values), uapiHeader)
	}
	for _, d := range compareABI(h, goABI, goEnums) {
		t.Errorf("%s: %s", uapiHeader, d)
	}
}

// The header's families are Linux's AF_INET and AF_INET6.
func TestFamilyValuesAreLinux(t *testing.T) {
	if dsrtypes.IPv4 != unix.AF_INET || dsrtypes.IPv6 != unix.AF_INET6 {
		t.Errorf("IPv4, IPv6 = %d, %d; want AF_INET %d, AF_INET6 %d", dsrtypes.IPv4, dsrtypes.IPv6, unix.AF_INET, unix.AF_INET6)
	}
}

// The comparison catches every kind of drift: a reordered enum, a changed
// #define, a new name, a removed name.
func TestABICheckDetectsDrift(t *testing.T) {
	orig, err := os.ReadFile(uapiHeader)
	if err != nil {
		t.Fatal(err)
	}
	edits := []struct {
		name, old, new string
		want           string
	}{
		{"swapped commands", "L3DSR_CMD_MAP_DEL,\n\tL3DSR_CMD_MAP_GET,", "L3DSR_CMD_MAP_GET,\n\tL3DSR_CMD_MAP_DEL,", "L3DSR_CMD_MAP_DEL: header 3, Go 2"},
		{"new attribute", "L3DSR_A_PAD,\n", "L3DSR_A_PAD,\n\tL3DSR_A_NEW,\n", "L3DSR_A_NEW = 7 is in the header but has no Go constant"},
		{"removed attribute", "\tL3DSR_ENTRY_A_BYTES,\t/* u64, replies only */\n", "", "L3DSR_ENTRY_A_BYTES = 6 is in Go but not in the header"},
		{"changed define", "#define L3DSR_DSCP_MAX\t\t63", "#define L3DSR_DSCP_MAX\t\t62", "L3DSR_DSCP_MAX: header 62, Go 63"},
		{"changed name", `"l3dsr"`, `"l3dsr2"`, "L3DSR_GENL_NAME: header l3dsr2, Go l3dsr"},
		{"explicit value", "L3DSR_STATS_A_UNSPEC,", "L3DSR_STATS_A_UNSPEC = 1,", "L3DSR_STATS_A_UNSPEC: header 1, Go 0"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			src := strings.Replace(string(orig), e.old, e.new, 1)
			if src == string(orig) {
				t.Fatalf("edit %q did not apply: update this test to the header", e.old)
			}
			h, err := parseHeader(src)
			if err != nil {
				t.Fatal(err)
			}
			diffs := compareABI(h, goABI, goEnums)
			if !strings.Contains(strings.Join(diffs, "\n"), e.want) {
				t.Errorf("differences %q, want one containing %q", diffs, e.want)
			}
		})
	}
	if _, err := parseHeader("#define L3DSR_X (sizeof(struct foo))\n"); err == nil {
		t.Error("an expression the parser does not understand must fail the parse")
	}
}
