package maptable

import (
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/cheader"
	"golang.org/x/sys/unix"
)

const uapiHeader = "../kmod/uapi/linux/l3dsr.h"

// goABI is every name of the uapi header with the value this package uses
// for it. The test fails if the header has a name that is not here, if a
// name here is not in the header, or if a value differs.
var goABI = map[string]any{
	"L3DSR_GENL_NAME":    familyName,
	"L3DSR_GENL_VERSION": int64(genlVersion),
	"L3DSR_MAX_ENTRIES":  int64(maxEntries),
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

// abi is the Go side of the header: every name of it, every enum.
var abi = cheader.Mirror{
	Path:     uapiHeader,
	Values:   goABI,
	Enums:    []string{"L3DSR_CMD_UNSPEC", "L3DSR_A_UNSPEC", "L3DSR_ENTRY_A_UNSPEC", "L3DSR_STATS_A_UNSPEC"},
	All:      true,
	MinNames: 40,
}

// The header matches, and the comparison catches every kind of drift: a
// reordered enum, a changed #define, a new name, a removed name.
func TestABIMatchesUAPIHeader(t *testing.T) {
	abi.Test(t, [][4]string{
		{"swapped commands", "L3DSR_CMD_MAP_DEL,\n\tL3DSR_CMD_MAP_GET,", "L3DSR_CMD_MAP_GET,\n\tL3DSR_CMD_MAP_DEL,", "L3DSR_CMD_MAP_DEL: header 3, Go 2"},
		{"new attribute", "L3DSR_A_PAD,\n", "L3DSR_A_PAD,\n\tL3DSR_A_NEW,\n", "L3DSR_A_NEW = 7 is in the header but has no Go constant"},
		{"removed attribute", "\tL3DSR_ENTRY_A_BYTES,\t/* u64, replies only */\n", "", "L3DSR_ENTRY_A_BYTES = 6 is in Go but not in the header"},
		{"changed define", "#define L3DSR_DSCP_MAX\t\t63", "#define L3DSR_DSCP_MAX\t\t62", "L3DSR_DSCP_MAX: header 62, Go 63"},
		{"changed name", `"l3dsr"`, `"l3dsr2"`, "L3DSR_GENL_NAME: header l3dsr2, Go l3dsr"},
		{"explicit value", "L3DSR_STATS_A_UNSPEC,", "L3DSR_STATS_A_UNSPEC = 1,", "L3DSR_STATS_A_UNSPEC: header 1, Go 0"},
	})
}

// The header's families are Linux's AF_INET and AF_INET6.
func TestFamilyValuesAreLinux(t *testing.T) {
	if dsrtypes.IPv4 != unix.AF_INET || dsrtypes.IPv6 != unix.AF_INET6 {
		t.Errorf("IPv4, IPv6 = %d, %d; want AF_INET %d, AF_INET6 %d", dsrtypes.IPv4, dsrtypes.IPv6, unix.AF_INET, unix.AF_INET6)
	}
}
