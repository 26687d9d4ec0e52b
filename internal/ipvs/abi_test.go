package ipvs

import (
	"testing"

	"github.com/l3dsr/l3dsr/internal/cheader"
)

// The header of the running system's kernel ABI (Debian's linux-libc-dev).
const uapiHeader = "/usr/include/linux/ip_vs.h"

// abi is the Go side of the header: the constants of abi.go, and the
// names they cannot say (the sh scheduler's flags, the enums' __MAX
// ends). Every enum is mirrored but the sync daemon's, which this package
// does not use.
var abi = cheader.Mirror{
	Path:    uapiHeader,
	Missing: ": install linux-libc-dev, whose header this package's constants are checked against",
	GoFile:  "abi.go",
	Values: map[string]any{
		"IP_VS_SVC_F_SCHED_SH_FALLBACK": int64(flagSchedSHFallback),
		"IP_VS_SVC_F_SCHED_SH_PORT":     int64(flagSchedSHPort),
		"__IPVS_CMD_MAX":                int64(cmdMax + 1),
		"__IPVS_CMD_ATTR_MAX":           int64(cmdAttrMax + 1),
		"__IPVS_SVC_ATTR_MAX":           int64(svcAttrMax + 1),
		"__IPVS_DEST_ATTR_MAX":          int64(destAttrMax + 1),
		"__IPVS_STATS_ATTR_MAX":         int64(statsAttrMax + 1),
		"__IPVS_INFO_ATTR_MAX":          int64(infoAttrMax + 1),
	},
	Enums: []string{"IP_VS_CONN_F_TUNNEL_TYPE_IPIP", "IPVS_CMD_UNSPEC", "IPVS_CMD_ATTR_UNSPEC",
		"IPVS_SVC_ATTR_UNSPEC", "IPVS_DEST_ATTR_UNSPEC", "IPVS_STATS_ATTR_UNSPEC", "IPVS_INFO_ATTR_UNSPEC"},
	Ignored:  []string{"IPVS_DAEMON_ATTR_UNSPEC"},
	MinNames: 150,
}

// The header matches, and the comparison catches a changed value, a new
// member of a mirrored enum, a removed name and a new enum.
func TestABIMatchesUAPIHeader(t *testing.T) {
	abi.Test(t, [][4]string{
		{"swapped commands", "IPVS_CMD_DEL_DEST,\t\t/* delete destination */\n\tIPVS_CMD_GET_DEST,",
			"IPVS_CMD_GET_DEST,\n\tIPVS_CMD_DEL_DEST,", "IPVS_CMD_DEL_DEST: header 8, Go 7"},
		{"new dest attribute", "IPVS_DEST_ATTR_TUN_FLAGS,", "IPVS_DEST_ATTR_TUN_FLAGS,\n\tIPVS_DEST_ATTR_NEW,",
			"IPVS_DEST_ATTR_NEW = 16 is in the header but has no Go constant"},
		{"removed stats attribute", "\tIPVS_STATS_ATTR_PAD,\n", "", "IPVS_STATS_ATTR_PAD = 11 is in Go but not in the header"},
		{"changed flag", "#define IP_VS_SVC_F_SCHED1\t0x0008", "#define IP_VS_SVC_F_SCHED1\t0x0080",
			"IP_VS_SVC_F_SCHED_SH_FALLBACK: header 128, Go 8"},
		{"changed name", `"IPVS"`, `"IPVS2"`, "IPVS_GENL_NAME: header IPVS2, Go IPVS"},
		{"new enum", "#endif\t/* _IP_VS_H */", "enum { IPVS_NEW_A, IPVS_NEW_B };\n#endif", "enum IPVS_NEW_A is in the header but not known to Go"},
	})
}
