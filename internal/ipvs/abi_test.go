package ipvs

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The header of the running system's kernel ABI (Debian's linux-libc-dev).
const uapiHeader = "/usr/include/linux/ip_vs.h"

// goABI is every name of the header this package mirrors, with the value
// it uses for it.
var goABI = map[string]any{
	"IPVS_GENL_NAME":         familyName,
	"IPVS_GENL_VERSION":      int64(genlVersion),
	"IP_VS_VERSION_CODE":     int64(versionCode),
	"IP_VS_SCHEDNAME_MAXLEN": int64(schedNameMaxLen),
	"IP_VS_PENAME_MAXLEN":    int64(peNameMaxLen),

	"IP_VS_SVC_F_PERSISTENT":        int64(svcFPersistent),
	"IP_VS_SVC_F_HASHED":            int64(svcFHashed),
	"IP_VS_SVC_F_ONEPACKET":         int64(svcFOnePacket),
	"IP_VS_SVC_F_SCHED1":            int64(svcFSched1),
	"IP_VS_SVC_F_SCHED2":            int64(svcFSched2),
	"IP_VS_SVC_F_SCHED3":            int64(svcFSched3),
	"IP_VS_SVC_F_SCHED_SH_FALLBACK": int64(FlagSchedSHFallback),
	"IP_VS_SVC_F_SCHED_SH_PORT":     int64(FlagSchedSHPort),

	"IP_VS_CONN_F_FWD_MASK":  int64(connFFwdMask),
	"IP_VS_CONN_F_MASQ":      int64(connFMasq),
	"IP_VS_CONN_F_LOCALNODE": int64(connFLocalNode),
	"IP_VS_CONN_F_TUNNEL":    int64(connFTunnel),
	"IP_VS_CONN_F_DROUTE":    int64(connFDRoute),

	"IP_VS_CONN_F_TUNNEL_TYPE_IPIP": int64(tunTypeIPIP),
	"IP_VS_CONN_F_TUNNEL_TYPE_GUE":  int64(tunTypeGUE),
	"IP_VS_CONN_F_TUNNEL_TYPE_GRE":  int64(tunTypeGRE),
	"IP_VS_CONN_F_TUNNEL_TYPE_MAX":  int64(tunTypeMax),

	"IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM":  int64(tunFlagNoCsum),
	"IP_VS_TUNNEL_ENCAP_FLAG_CSUM":    int64(tunFlagCsum),
	"IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM": int64(tunFlagRemCsum),

	"IPVS_CMD_UNSPEC":      int64(cmdUnspec),
	"IPVS_CMD_NEW_SERVICE": int64(cmdNewService),
	"IPVS_CMD_SET_SERVICE": int64(cmdSetService),
	"IPVS_CMD_DEL_SERVICE": int64(cmdDelService),
	"IPVS_CMD_GET_SERVICE": int64(cmdGetService),
	"IPVS_CMD_NEW_DEST":    int64(cmdNewDest),
	"IPVS_CMD_SET_DEST":    int64(cmdSetDest),
	"IPVS_CMD_DEL_DEST":    int64(cmdDelDest),
	"IPVS_CMD_GET_DEST":    int64(cmdGetDest),
	"IPVS_CMD_NEW_DAEMON":  int64(cmdNewDaemon),
	"IPVS_CMD_DEL_DAEMON":  int64(cmdDelDaemon),
	"IPVS_CMD_GET_DAEMON":  int64(cmdGetDaemon),
	"IPVS_CMD_SET_CONFIG":  int64(cmdSetConfig),
	"IPVS_CMD_GET_CONFIG":  int64(cmdGetConfig),
	"IPVS_CMD_SET_INFO":    int64(cmdSetInfo),
	"IPVS_CMD_GET_INFO":    int64(cmdGetInfo),
	"IPVS_CMD_ZERO":        int64(cmdZero),
	"IPVS_CMD_FLUSH":       int64(cmdFlush),
	"__IPVS_CMD_MAX":       int64(cmdMax + 1),
	"IPVS_CMD_MAX":         int64(cmdMax),

	"IPVS_CMD_ATTR_UNSPEC":          int64(cmdAttrUnspec),
	"IPVS_CMD_ATTR_SERVICE":         int64(cmdAttrService),
	"IPVS_CMD_ATTR_DEST":            int64(cmdAttrDest),
	"IPVS_CMD_ATTR_DAEMON":          int64(cmdAttrDaemon),
	"IPVS_CMD_ATTR_TIMEOUT_TCP":     int64(cmdAttrTimeoutTCP),
	"IPVS_CMD_ATTR_TIMEOUT_TCP_FIN": int64(cmdAttrTimeoutTCPFin),
	"IPVS_CMD_ATTR_TIMEOUT_UDP":     int64(cmdAttrTimeoutUDP),
	"__IPVS_CMD_ATTR_MAX":           int64(cmdAttrMax + 1),
	"IPVS_CMD_ATTR_MAX":             int64(cmdAttrMax),

	"IPVS_SVC_ATTR_UNSPEC":     int64(svcAttrUnspec),
	"IPVS_SVC_ATTR_AF":         int64(svcAttrAF),
	"IPVS_SVC_ATTR_PROTOCOL":   int64(svcAttrProtocol),
	"IPVS_SVC_ATTR_ADDR":       int64(svcAttrAddr),
	"IPVS_SVC_ATTR_PORT":       int64(svcAttrPort),
	"IPVS_SVC_ATTR_FWMARK":     int64(svcAttrFWMark),
	"IPVS_SVC_ATTR_SCHED_NAME": int64(svcAttrSchedName),
	"IPVS_SVC_ATTR_FLAGS":      int64(svcAttrFlags),
	"IPVS_SVC_ATTR_TIMEOUT":    int64(svcAttrTimeout),
	"IPVS_SVC_ATTR_NETMASK":    int64(svcAttrNetmask),
	"IPVS_SVC_ATTR_STATS":      int64(svcAttrStats),
	"IPVS_SVC_ATTR_PE_NAME":    int64(svcAttrPEName),
	"IPVS_SVC_ATTR_STATS64":    int64(svcAttrStats64),
	"__IPVS_SVC_ATTR_MAX":      int64(svcAttrMax + 1),
	"IPVS_SVC_ATTR_MAX":        int64(svcAttrMax),

	"IPVS_DEST_ATTR_UNSPEC":        int64(destAttrUnspec),
	"IPVS_DEST_ATTR_ADDR":          int64(destAttrAddr),
	"IPVS_DEST_ATTR_PORT":          int64(destAttrPort),
	"IPVS_DEST_ATTR_FWD_METHOD":    int64(destAttrFwdMethod),
	"IPVS_DEST_ATTR_WEIGHT":        int64(destAttrWeight),
	"IPVS_DEST_ATTR_U_THRESH":      int64(destAttrUThresh),
	"IPVS_DEST_ATTR_L_THRESH":      int64(destAttrLThresh),
	"IPVS_DEST_ATTR_ACTIVE_CONNS":  int64(destAttrActiveConns),
	"IPVS_DEST_ATTR_INACT_CONNS":   int64(destAttrInactConns),
	"IPVS_DEST_ATTR_PERSIST_CONNS": int64(destAttrPersistConns),
	"IPVS_DEST_ATTR_STATS":         int64(destAttrStats),
	"IPVS_DEST_ATTR_ADDR_FAMILY":   int64(destAttrAddrFamily),
	"IPVS_DEST_ATTR_STATS64":       int64(destAttrStats64),
	"IPVS_DEST_ATTR_TUN_TYPE":      int64(destAttrTunType),
	"IPVS_DEST_ATTR_TUN_PORT":      int64(destAttrTunPort),
	"IPVS_DEST_ATTR_TUN_FLAGS":     int64(destAttrTunFlags),
	"__IPVS_DEST_ATTR_MAX":         int64(destAttrMax + 1),
	"IPVS_DEST_ATTR_MAX":           int64(destAttrMax),

	"IPVS_STATS_ATTR_UNSPEC":   int64(statsAttrUnspec),
	"IPVS_STATS_ATTR_CONNS":    int64(statsAttrConns),
	"IPVS_STATS_ATTR_INPKTS":   int64(statsAttrInPkts),
	"IPVS_STATS_ATTR_OUTPKTS":  int64(statsAttrOutPkts),
	"IPVS_STATS_ATTR_INBYTES":  int64(statsAttrInBytes),
	"IPVS_STATS_ATTR_OUTBYTES": int64(statsAttrOutBytes),
	"IPVS_STATS_ATTR_CPS":      int64(statsAttrCPS),
	"IPVS_STATS_ATTR_INPPS":    int64(statsAttrInPPS),
	"IPVS_STATS_ATTR_OUTPPS":   int64(statsAttrOutPPS),
	"IPVS_STATS_ATTR_INBPS":    int64(statsAttrInBPS),
	"IPVS_STATS_ATTR_OUTBPS":   int64(statsAttrOutBPS),
	"IPVS_STATS_ATTR_PAD":      int64(statsAttrPad),
	"__IPVS_STATS_ATTR_MAX":    int64(statsAttrMax + 1),
	"IPVS_STATS_ATTR_MAX":      int64(statsAttrMax),

	"IPVS_INFO_ATTR_UNSPEC":        int64(infoAttrUnspec),
	"IPVS_INFO_ATTR_VERSION":       int64(infoAttrVersion),
	"IPVS_INFO_ATTR_CONN_TAB_SIZE": int64(infoAttrConnTabSize),
	"__IPVS_INFO_ATTR_MAX":         int64(infoAttrMax + 1),
	"IPVS_INFO_ATTR_MAX":           int64(infoAttrMax),
}

// mirroredEnums are the header's enums (named by their first member: they
// are anonymous) of which every member must have a Go value, so that a new
// command or attribute is noticed. ignoredEnums are the ones this package
// does not use (the sync daemon).
var (
	mirroredEnums = []string{"IP_VS_CONN_F_TUNNEL_TYPE_IPIP", "IPVS_CMD_UNSPEC", "IPVS_CMD_ATTR_UNSPEC",
		"IPVS_SVC_ATTR_UNSPEC", "IPVS_DEST_ATTR_UNSPEC", "IPVS_STATS_ATTR_UNSPEC", "IPVS_INFO_ATTR_UNSPEC"}
	ignoredEnums = []string{"IPVS_DAEMON_ATTR_UNSPEC"}
)

// cHeader is what parseHeader finds in a uapi header.
type cHeader struct {
	values map[string]any      // int64 or string
	enums  map[string][]string // first member -> members in order
}

var (
	reComment   = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	reEnum      = regexp.MustCompile(`(?s)enum\s*(\w*)\s*\{(.*?)\}\s*;`)
	reDefine    = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)(\(?)(.*)$`)
	reIdent     = regexp.MustCompile(`^[A-Za-z_]\w*$`)
	reToken     = regexp.MustCompile(`\s*(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_]\w*|<<|[()|+-])`)
	reUnsuffix  = regexp.MustCompile(`^(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$`)
	reContinued = regexp.MustCompile(`\\\n`)
)

// parseHeader reads the enums and object-like #defines of a uapi header.
// Function-like macros and structs are not part of the comparison; any
// object-like #define it cannot evaluate is an error.
func parseHeader(src string) (cHeader, error) {
	h := cHeader{values: map[string]any{}, enums: map[string][]string{}}
	src = reComment.ReplaceAllString(src, " ")
	src = reContinued.ReplaceAllString(src, " ")
	set := func(name string, v any) error {
		if _, dup := h.values[name]; dup {
			return fmt.Errorf("%s defined twice", name)
		}
		h.values[name] = v
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

func (h cHeader) define(name string, funcLike bool, val string, set func(string, any) error) error {
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

func (h cHeader) enum(name, body string, set func(string, any) error) error {
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
	h.enums[members[0]] = members
	return nil
}

// eval evaluates the integer expressions of the header: numbers, earlier
// names, parentheses, |, <<, + and -, with C's precedence.
func (h cHeader) eval(expr string) (int64, error) {
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
	v, err := p.or()
	if err == nil && p.pos != len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if err != nil {
		return 0, fmt.Errorf("cannot evaluate %q: %v", expr, err)
	}
	return v, nil
}

type exprParser struct {
	h    cHeader
	toks []string
	pos  int
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) or() (int64, error) {
	v, err := p.shift()
	for err == nil && p.peek() == "|" {
		p.pos++
		var r int64
		r, err = p.shift()
		v |= r
	}
	return v, err
}

func (p *exprParser) shift() (int64, error) {
	v, err := p.add()
	for err == nil && p.peek() == "<<" {
		p.pos++
		var r int64
		r, err = p.add()
		v <<= r
	}
	return v, err
}

func (p *exprParser) add() (int64, error) {
	v, err := p.operand()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.peek()
		p.pos++
		var r int64
		r, err = p.operand()
		if op == "+" {
			v += r
		} else {
			v -= r
		}
	}
	return v, err
}

func (p *exprParser) operand() (int64, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "(":
		v, err := p.or()
		if err == nil && p.peek() != ")" {
			err = fmt.Errorf("missing )")
		}
		p.pos++
		return v, err
	case reUnsuffix.MatchString(t):
		return strconv.ParseInt(reUnsuffix.FindStringSubmatch(t)[1], 0, 64)
	case reIdent.MatchString(t):
		v, ok := p.h.values[t].(int64)
		if !ok {
			return 0, fmt.Errorf("%q is not an integer defined before it is used", t)
		}
		return v, nil
	}
	return 0, fmt.Errorf("unexpected %q", t)
}

// compareABI lists every difference between a parsed header and the Go side.
func compareABI(h cHeader, goValues map[string]any) []string {
	var diffs []string
	for name, gv := range goValues {
		hv, ok := h.values[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s = %v is in Go but not in the header", name, gv))
		case hv != gv:
			diffs = append(diffs, fmt.Sprintf("%s: header %v, Go %v", name, hv, gv))
		}
	}
	known := map[string]bool{}
	for _, e := range append(append([]string{}, mirroredEnums...), ignoredEnums...) {
		known[e] = true
		if _, ok := h.enums[e]; !ok {
			diffs = append(diffs, fmt.Sprintf("enum %s is not in the header", e))
		}
	}
	for first := range h.enums {
		if !known[first] {
			diffs = append(diffs, fmt.Sprintf("enum %s is in the header but not known to Go", first))
		}
	}
	for _, e := range mirroredEnums {
		for _, name := range h.enums[e] {
			if _, ok := goValues[name]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s = %v is in the header but has no Go constant", name, h.values[name]))
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

func readHeader(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(uapiHeader)
	if err != nil {
		t.Fatalf("%v: install linux-libc-dev, whose header this package's constants are checked against", err)
	}
	return string(src)
}

func TestABIMatchesUAPIHeader(t *testing.T) {
	h, err := parseHeader(readHeader(t))
	if err != nil {
		t.Fatalf("parsing %s: %v", uapiHeader, err)
	}
	if len(h.enums) != 8 || len(h.values) < 150 {
		t.Fatalf("parsed only %d enums and %d names from %s: the parser is broken", len(h.enums), len(h.values), uapiHeader)
	}
	for _, d := range compareABI(h, goABI) {
		t.Errorf("%s: %s", uapiHeader, d)
	}
}

// The comparison catches a changed value, a new member of a mirrored enum,
// a removed name and a new enum; an expression the parser does not
// understand fails the parse.
func TestABICheckDetectsDrift(t *testing.T) {
	orig := readHeader(t)
	edits := []struct {
		name, old, new, want string
	}{
		{"swapped commands", "IPVS_CMD_DEL_DEST,\t\t/* delete destination */\n\tIPVS_CMD_GET_DEST,",
			"IPVS_CMD_GET_DEST,\n\tIPVS_CMD_DEL_DEST,", "IPVS_CMD_DEL_DEST: header 8, Go 7"},
		{"new dest attribute", "IPVS_DEST_ATTR_TUN_FLAGS,", "IPVS_DEST_ATTR_TUN_FLAGS,\n\tIPVS_DEST_ATTR_NEW,",
			"IPVS_DEST_ATTR_NEW = 16 is in the header but has no Go constant"},
		{"removed stats attribute", "\tIPVS_STATS_ATTR_PAD,\n", "", "IPVS_STATS_ATTR_PAD = 11 is in Go but not in the header"},
		{"changed flag", "#define IP_VS_SVC_F_SCHED1\t0x0008", "#define IP_VS_SVC_F_SCHED1\t0x0080",
			"IP_VS_SVC_F_SCHED_SH_FALLBACK: header 128, Go 8"},
		{"changed name", `"IPVS"`, `"IPVS2"`, "IPVS_GENL_NAME: header IPVS2, Go IPVS"},
		{"new enum", "#endif\t/* _IP_VS_H */", "enum { IPVS_NEW_A, IPVS_NEW_B };\n#endif", "enum IPVS_NEW_A is in the header but not known to Go"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			src := strings.Replace(orig, e.old, e.new, 1)
			if src == orig {
				t.Fatalf("edit %q did not apply: update this test to the header", e.old)
			}
			h, err := parseHeader(src)
			if err != nil {
				t.Fatal(err)
			}
			diffs := compareABI(h, goABI)
			if !strings.Contains(strings.Join(diffs, "\n"), e.want) {
				t.Errorf("differences %q, want one containing %q", diffs, e.want)
			}
		})
	}
	if _, err := parseHeader("#define IP_VS_X (sizeof(struct foo))\n"); err == nil {
		t.Error("an expression the parser does not understand must fail the parse")
	}
}

func TestEval(t *testing.T) {
	h := cHeader{values: map[string]any{"A": int64(3), "B": int64(0x10)}}
	for expr, want := range map[string]int64{
		"(64+1024+64)": 1152, "(A+1)": 4, "(1 << 1)": 2, "A | B": 19, "(B - A - 1)": 12, "(1 << 16)": 65536,
		"(A | \t B | 0)": 19, "0x0600": 0x600,
	} {
		if got, err := h.eval(expr); err != nil || got != want {
			t.Errorf("eval(%q) = %d, %v; want %d", expr, got, err, want)
		}
	}
	for _, bad := range []string{"C", "(A", "A +", "sizeof(x)", "A * 2"} {
		if _, err := h.eval(bad); err == nil {
			t.Errorf("eval(%q) did not fail", bad)
		}
	}
}
