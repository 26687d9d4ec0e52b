package maptable

import (
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/cheader"
	"golang.org/x/sys/unix"
)

const uapiHeader = "../kmod/uapi/linux/l3dsr.h"

// abi is the Go side of the header: the constants of abi.go, and the
// names they cannot say (the highest DSCP code, the enums' __MAX ends).
// Every name of the header must be mirrored.
var abi = cheader.Mirror{
	Path:   uapiHeader,
	GoFile: "abi.go",
	Values: map[string]any{
		"L3DSR_DSCP_MAX":      int64(dsrtypes.MaxDSCP),
		"__L3DSR_CMD_MAX":     int64(cmdMax + 1),
		"__L3DSR_A_MAX":       int64(attrMax + 1),
		"__L3DSR_ENTRY_A_MAX": int64(entryAttrMax + 1),
		"__L3DSR_STATS_A_MAX": int64(statsAttrMax + 1),
		"__L3DSR_MODE_MAX":    int64(modeMax + 1),
	},
	Enums:    []string{"L3DSR_CMD_UNSPEC", "L3DSR_A_UNSPEC", "L3DSR_ENTRY_A_UNSPEC", "L3DSR_STATS_A_UNSPEC", "L3DSR_MODE_RULE"},
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
