package maptable

// The ABI of the "l3dsr" generic netlink family, mirrored from
// kmod/uapi/linux/l3dsr.h. That header is the single source of truth:
// abi_test.go parses it and fails on any difference with these constants,
// each of which names the C one it mirrors first in its line comment.

// familyName is the generic netlink family name.
const familyName = "l3dsr" // L3DSR_GENL_NAME

// Protocol constants (#defines of the header).
const (
	genlVersion = 3       // L3DSR_GENL_VERSION
	maxEntries  = 1048576 // L3DSR_MAX_ENTRIES: most entries one namespace's table may hold
	dscpAny     = 255     // L3DSR_DSCP_ANY: an entry's DSCP that matches every code
)

// enum l3dsr_cmd
const (
	cmdUnspec        = 0  // L3DSR_CMD_UNSPEC
	cmdMapAdd        = 1  // L3DSR_CMD_MAP_ADD
	cmdMapDel        = 2  // L3DSR_CMD_MAP_DEL
	cmdMapGet        = 3  // L3DSR_CMD_MAP_GET
	cmdMapFlush      = 4  // L3DSR_CMD_MAP_FLUSH
	cmdReplaceBegin  = 5  // L3DSR_CMD_REPLACE_BEGIN
	cmdReplaceAdd    = 6  // L3DSR_CMD_REPLACE_ADD
	cmdReplaceCommit = 7  // L3DSR_CMD_REPLACE_COMMIT
	cmdReplaceAbort  = 8  // L3DSR_CMD_REPLACE_ABORT
	cmdStatsGet      = 9  // L3DSR_CMD_STATS_GET
	cmdModeSet       = 10 // L3DSR_CMD_MODE_SET
	cmdMax           = 10 // L3DSR_CMD_MAX
)

// enum l3dsr_attr
const (
	attrUnspec     = 0 // L3DSR_A_UNSPEC
	attrEntry      = 1 // L3DSR_A_ENTRY: nested, entryAttr*
	attrReplaceID  = 2 // L3DSR_A_REPLACE_ID: u32
	attrGeneration = 3 // L3DSR_A_GENERATION: u32
	attrStats      = 4 // L3DSR_A_STATS: nested, statsAttr*
	attrFamily     = 5 // L3DSR_A_FAMILY: u8
	attrPad        = 6 // L3DSR_A_PAD
	attrMode       = 7 // L3DSR_A_MODE: u8, modeRule or modeDirect
	attrHooks      = 8 // L3DSR_A_HOOKS: u32, hookIPv4|hookIPv6 registered now
	attrMax        = 8 // L3DSR_A_MAX
)

// enum l3dsr_mode
const (
	modeRule   = 0 // L3DSR_MODE_RULE: the --map rule reads the table
	modeDirect = 1 // L3DSR_MODE_DIRECT: the module's own hook reads it
	modeMax    = 1 // L3DSR_MODE_MAX
)

// L3DSR_A_HOOKS bits
const (
	hookIPv4 = 1 << 0 // L3DSR_HOOK_IPV4
	hookIPv6 = 1 << 1 // L3DSR_HOOK_IPV6
)

// enum l3dsr_entry_attr
const (
	entryAttrUnspec  = 0 // L3DSR_ENTRY_A_UNSPEC
	entryAttrFamily  = 1 // L3DSR_ENTRY_A_FAMILY: u8
	entryAttrDSCP    = 2 // L3DSR_ENTRY_A_DSCP: u8
	entryAttrLocal   = 3 // L3DSR_ENTRY_A_LOCAL: 4 or 16 bytes; absent = any
	entryAttrVIP     = 4 // L3DSR_ENTRY_A_VIP: 4 or 16 bytes
	entryAttrPackets = 5 // L3DSR_ENTRY_A_PACKETS: u64, replies only
	entryAttrBytes   = 6 // L3DSR_ENTRY_A_BYTES: u64, replies only
	entryAttrPad     = 7 // L3DSR_ENTRY_A_PAD
	entryAttrDSCPSet = 8 // L3DSR_ENTRY_A_DSCP_SET: u8, the DSCP after the rewrite
	entryAttrMax     = 8 // L3DSR_ENTRY_A_MAX
)

// enum l3dsr_stats_attr
const (
	statsAttrUnspec    = 0 // L3DSR_STATS_A_UNSPEC
	statsAttrRewritten = 1 // L3DSR_STATS_A_REWRITTEN: u64
	statsAttrNoEntry   = 2 // L3DSR_STATS_A_NO_ENTRY: u64
	statsAttrErrors    = 3 // L3DSR_STATS_A_ERRORS: u64
	statsAttrEntries   = 4 // L3DSR_STATS_A_ENTRIES: u32
	statsAttrPad       = 5 // L3DSR_STATS_A_PAD
	statsAttrMax       = 5 // L3DSR_STATS_A_MAX
)
