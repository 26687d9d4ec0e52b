package main

import (
	"testing"

	"github.com/l3dsr/l3dsr/internal/cheader"
)

// The fuzzer's constants are the header's: a valid request it means to
// send must be one the module takes.
func TestABIMatchesUAPIHeader(t *testing.T) {
	m := cheader.Mirror{
		Path:   "../../../kmod/uapi/linux/l3dsr.h",
		GoFile: "abi.go",
		Values: map[string]any{
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
	m.Test(t, [][4]string{
		{"swapped commands", "L3DSR_CMD_MAP_DEL,\n\tL3DSR_CMD_MAP_GET,", "L3DSR_CMD_MAP_GET,\n\tL3DSR_CMD_MAP_DEL,", "L3DSR_CMD_MAP_DEL: header 3, Go 2"},
	})
}
