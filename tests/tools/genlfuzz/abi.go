package main

// The l3dsr family's ABI as the fuzzer sends it, mirrored from
// kmod/uapi/linux/l3dsr.h (abi_test.go compares the two). The fuzzer keeps
// its own copy rather than importing maptable's: it must be able to say
// everything the client never would, and stays independent of it.

const familyName = "l3dsr" // L3DSR_GENL_NAME

const (
	genlVersion = 3       // L3DSR_GENL_VERSION
	maxEntries  = 1048576 // L3DSR_MAX_ENTRIES
	dscpMax     = 63      // L3DSR_DSCP_MAX
	dscpAny     = 255     // L3DSR_DSCP_ANY
)

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

const (
	attrUnspec     = 0 // L3DSR_A_UNSPEC
	attrEntry      = 1 // L3DSR_A_ENTRY
	attrReplaceID  = 2 // L3DSR_A_REPLACE_ID
	attrGeneration = 3 // L3DSR_A_GENERATION
	attrStats      = 4 // L3DSR_A_STATS
	attrFamily     = 5 // L3DSR_A_FAMILY
	attrPad        = 6 // L3DSR_A_PAD
	attrMode       = 7 // L3DSR_A_MODE
	attrHooks      = 8 // L3DSR_A_HOOKS
	attrMax        = 8 // L3DSR_A_MAX
)

const (
	modeRule   = 0 // L3DSR_MODE_RULE
	modeDirect = 1 // L3DSR_MODE_DIRECT
	modeMax    = 1 // L3DSR_MODE_MAX
)

const (
	hookIPv4 = 1 // L3DSR_HOOK_IPV4
	hookIPv6 = 2 // L3DSR_HOOK_IPV6
)

const (
	entryAttrUnspec  = 0 // L3DSR_ENTRY_A_UNSPEC
	entryAttrFamily  = 1 // L3DSR_ENTRY_A_FAMILY
	entryAttrDSCP    = 2 // L3DSR_ENTRY_A_DSCP
	entryAttrLocal   = 3 // L3DSR_ENTRY_A_LOCAL
	entryAttrVIP     = 4 // L3DSR_ENTRY_A_VIP
	entryAttrPackets = 5 // L3DSR_ENTRY_A_PACKETS
	entryAttrBytes   = 6 // L3DSR_ENTRY_A_BYTES
	entryAttrPad     = 7 // L3DSR_ENTRY_A_PAD
	entryAttrDSCPSet = 8 // L3DSR_ENTRY_A_DSCP_SET
	entryAttrMax     = 8 // L3DSR_ENTRY_A_MAX
)

const (
	statsAttrUnspec    = 0 // L3DSR_STATS_A_UNSPEC
	statsAttrRewritten = 1 // L3DSR_STATS_A_REWRITTEN
	statsAttrNoEntry   = 2 // L3DSR_STATS_A_NO_ENTRY
	statsAttrErrors    = 3 // L3DSR_STATS_A_ERRORS
	statsAttrEntries   = 4 // L3DSR_STATS_A_ENTRIES
	statsAttrPad       = 5 // L3DSR_STATS_A_PAD
	statsAttrMax       = 5 // L3DSR_STATS_A_MAX
)
