package ipvs

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/cheader"
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
	"IP_VS_SVC_F_SCHED_SH_FALLBACK": int64(flagSchedSHFallback),
	"IP_VS_SVC_F_SCHED_SH_PORT":     int64(flagSchedSHPort),

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

// compareABI lists every difference between a parsed header and the Go side.
func compareABI(h cheader.Header, goValues map[string]any) []string {
	var diffs []string
	for name, gv := range goValues {
		hv, ok := h.Values[name]
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
		if _, ok := h.Enums[e]; !ok {
			diffs = append(diffs, fmt.Sprintf("enum %s is not in the header", e))
		}
	}
	for first := range h.Enums {
		if !known[first] {
			diffs = append(diffs, fmt.Sprintf("enum %s is in the header but not known to Go", first))
		}
	}
	for _, e := range mirroredEnums {
		for _, name := range h.Enums[e] {
			if _, ok := goValues[name]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s = %v is in the header but has no Go constant", name, h.Values[name]))
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
	h, err := cheader.Parse(readHeader(t))
	if err != nil {
		t.Fatalf("parsing %s: %v", uapiHeader, err)
	}
	if len(h.Enums) != 8 || len(h.Values) < 150 {
		t.Fatalf("parsed only %d enums and %d names from %s: the parser is broken", len(h.Enums), len(h.Values), uapiHeader)
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
			h, err := cheader.Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			diffs := compareABI(h, goABI)
			if !strings.Contains(strings.Join(diffs, "\n"), e.want) {
				t.Errorf("differences %q, want one containing %q", diffs, e.want)
			}
		})
	}
	if _, err := cheader.Parse("#define IP_VS_X (sizeof(struct foo))\n"); err == nil {
		t.Error("an expression the parser does not understand must fail the parse")
	}
}
