package ipvs

// The ABI of the kernel's "IPVS" generic netlink family, mirrored from
// include/uapi/linux/ip_vs.h. abi_test.go parses the installed header
// (/usr/include/linux/ip_vs.h) and fails on any difference with these
// constants, so a typo here cannot reach the kernel: each constant names
// the C one it mirrors first in its line comment, and the test reads them
// so.

// familyName is the generic netlink family name.
const familyName = "IPVS" // IPVS_GENL_NAME

const (
	genlVersion = 0x1 // IPVS_GENL_VERSION
	// versionCode is the IPVS version this package was written against;
	// the kernel reports its own in GET_INFO.
	versionCode = 0x010201 // IP_VS_VERSION_CODE

	schedNameMaxLen = 16 // IP_VS_SCHEDNAME_MAXLEN, with the NUL
	peNameMaxLen    = 16 // IP_VS_PENAME_MAXLEN, with the NUL
)

// Service flags (IP_VS_SVC_F_*).
const (
	svcFPersistent = 0x0001 // IP_VS_SVC_F_PERSISTENT
	svcFHashed     = 0x0002 // IP_VS_SVC_F_HASHED
	svcFOnePacket  = 0x0004 // IP_VS_SVC_F_ONEPACKET
	svcFSched1     = 0x0008 // IP_VS_SVC_F_SCHED1
	svcFSched2     = 0x0010 // IP_VS_SVC_F_SCHED2
	svcFSched3     = 0x0020 // IP_VS_SVC_F_SCHED3
)

// Connection flags (IP_VS_CONN_F_*): the forwarding methods a destination
// may be given.
const (
	connFFwdMask   = 0x0007 // IP_VS_CONN_F_FWD_MASK
	connFMasq      = 0x0000 // IP_VS_CONN_F_MASQ
	connFLocalNode = 0x0001 // IP_VS_CONN_F_LOCALNODE
	connFTunnel    = 0x0002 // IP_VS_CONN_F_TUNNEL
	connFDRoute    = 0x0003 // IP_VS_CONN_F_DROUTE
)

// Tunnel types (the anonymous enum starting IP_VS_CONN_F_TUNNEL_TYPE_IPIP).
const (
	tunTypeIPIP = 0 // IP_VS_CONN_F_TUNNEL_TYPE_IPIP
	tunTypeGUE  = 1 // IP_VS_CONN_F_TUNNEL_TYPE_GUE
	tunTypeGRE  = 2 // IP_VS_CONN_F_TUNNEL_TYPE_GRE
	tunTypeMax  = 3 // IP_VS_CONN_F_TUNNEL_TYPE_MAX
)

// Tunnel encapsulation flags (IP_VS_TUNNEL_ENCAP_FLAG_*).
const (
	tunFlagNoCsum  = 0      // IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM
	tunFlagCsum    = 1 << 0 // IP_VS_TUNNEL_ENCAP_FLAG_CSUM
	tunFlagRemCsum = 1 << 1 // IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
)

// Commands (enum starting IPVS_CMD_UNSPEC).
const (
	cmdUnspec     = 0  // IPVS_CMD_UNSPEC
	cmdNewService = 1  // IPVS_CMD_NEW_SERVICE
	cmdSetService = 2  // IPVS_CMD_SET_SERVICE
	cmdDelService = 3  // IPVS_CMD_DEL_SERVICE
	cmdGetService = 4  // IPVS_CMD_GET_SERVICE
	cmdNewDest    = 5  // IPVS_CMD_NEW_DEST
	cmdSetDest    = 6  // IPVS_CMD_SET_DEST
	cmdDelDest    = 7  // IPVS_CMD_DEL_DEST
	cmdGetDest    = 8  // IPVS_CMD_GET_DEST
	cmdNewDaemon  = 9  // IPVS_CMD_NEW_DAEMON
	cmdDelDaemon  = 10 // IPVS_CMD_DEL_DAEMON
	cmdGetDaemon  = 11 // IPVS_CMD_GET_DAEMON
	cmdSetConfig  = 12 // IPVS_CMD_SET_CONFIG
	cmdGetConfig  = 13 // IPVS_CMD_GET_CONFIG
	cmdSetInfo    = 14 // IPVS_CMD_SET_INFO: only in GET_INFO replies
	cmdGetInfo    = 15 // IPVS_CMD_GET_INFO
	cmdZero       = 16 // IPVS_CMD_ZERO
	cmdFlush      = 17 // IPVS_CMD_FLUSH
	cmdMax        = 17 // IPVS_CMD_MAX
)

// Top-level attributes (enum starting IPVS_CMD_ATTR_UNSPEC).
const (
	cmdAttrUnspec        = 0 // IPVS_CMD_ATTR_UNSPEC
	cmdAttrService       = 1 // IPVS_CMD_ATTR_SERVICE: nested, svcAttr*
	cmdAttrDest          = 2 // IPVS_CMD_ATTR_DEST: nested, destAttr*
	cmdAttrDaemon        = 3 // IPVS_CMD_ATTR_DAEMON
	cmdAttrTimeoutTCP    = 4 // IPVS_CMD_ATTR_TIMEOUT_TCP
	cmdAttrTimeoutTCPFin = 5 // IPVS_CMD_ATTR_TIMEOUT_TCP_FIN
	cmdAttrTimeoutUDP    = 6 // IPVS_CMD_ATTR_TIMEOUT_UDP
	cmdAttrMax           = 6 // IPVS_CMD_ATTR_MAX
)

// Service attributes (enum starting IPVS_SVC_ATTR_UNSPEC).
const (
	svcAttrUnspec    = 0  // IPVS_SVC_ATTR_UNSPEC
	svcAttrAF        = 1  // IPVS_SVC_ATTR_AF: u16
	svcAttrProtocol  = 2  // IPVS_SVC_ATTR_PROTOCOL: u16
	svcAttrAddr      = 3  // IPVS_SVC_ATTR_ADDR: union nf_inet_addr (16 bytes in replies)
	svcAttrPort      = 4  // IPVS_SVC_ATTR_PORT: be16
	svcAttrFWMark    = 5  // IPVS_SVC_ATTR_FWMARK: u32
	svcAttrSchedName = 6  // IPVS_SVC_ATTR_SCHED_NAME: NUL-terminated string
	svcAttrFlags     = 7  // IPVS_SVC_ATTR_FLAGS: struct ip_vs_flags {u32 flags, mask}
	svcAttrTimeout   = 8  // IPVS_SVC_ATTR_TIMEOUT: u32 seconds
	svcAttrNetmask   = 9  // IPVS_SVC_ATTR_NETMASK: be32 mask (v4) or prefix length (v6)
	svcAttrStats     = 10 // IPVS_SVC_ATTR_STATS: nested, statsAttr*, 32-bit counters
	svcAttrPEName    = 11 // IPVS_SVC_ATTR_PE_NAME: NUL-terminated string
	svcAttrStats64   = 12 // IPVS_SVC_ATTR_STATS64: nested, statsAttr*, all u64
	svcAttrMax       = 12 // IPVS_SVC_ATTR_MAX
)

// Destination attributes (enum starting IPVS_DEST_ATTR_UNSPEC).
const (
	destAttrUnspec       = 0  // IPVS_DEST_ATTR_UNSPEC
	destAttrAddr         = 1  // IPVS_DEST_ATTR_ADDR: union nf_inet_addr
	destAttrPort         = 2  // IPVS_DEST_ATTR_PORT: be16
	destAttrFwdMethod    = 3  // IPVS_DEST_ATTR_FWD_METHOD: u32
	destAttrWeight       = 4  // IPVS_DEST_ATTR_WEIGHT: u32 (int in the kernel)
	destAttrUThresh      = 5  // IPVS_DEST_ATTR_U_THRESH: u32
	destAttrLThresh      = 6  // IPVS_DEST_ATTR_L_THRESH: u32
	destAttrActiveConns  = 7  // IPVS_DEST_ATTR_ACTIVE_CONNS: u32
	destAttrInactConns   = 8  // IPVS_DEST_ATTR_INACT_CONNS: u32
	destAttrPersistConns = 9  // IPVS_DEST_ATTR_PERSIST_CONNS: u32
	destAttrStats        = 10 // IPVS_DEST_ATTR_STATS: nested, 32-bit counters
	destAttrAddrFamily   = 11 // IPVS_DEST_ATTR_ADDR_FAMILY: u16
	destAttrStats64      = 12 // IPVS_DEST_ATTR_STATS64: nested, all u64
	destAttrTunType      = 13 // IPVS_DEST_ATTR_TUN_TYPE: u8
	destAttrTunPort      = 14 // IPVS_DEST_ATTR_TUN_PORT: be16
	destAttrTunFlags     = 15 // IPVS_DEST_ATTR_TUN_FLAGS: u16
	destAttrMax          = 15 // IPVS_DEST_ATTR_MAX
)

// Statistics attributes (enum starting IPVS_STATS_ATTR_UNSPEC).
const (
	statsAttrUnspec   = 0  // IPVS_STATS_ATTR_UNSPEC
	statsAttrConns    = 1  // IPVS_STATS_ATTR_CONNS
	statsAttrInPkts   = 2  // IPVS_STATS_ATTR_INPKTS
	statsAttrOutPkts  = 3  // IPVS_STATS_ATTR_OUTPKTS
	statsAttrInBytes  = 4  // IPVS_STATS_ATTR_INBYTES
	statsAttrOutBytes = 5  // IPVS_STATS_ATTR_OUTBYTES
	statsAttrCPS      = 6  // IPVS_STATS_ATTR_CPS
	statsAttrInPPS    = 7  // IPVS_STATS_ATTR_INPPS
	statsAttrOutPPS   = 8  // IPVS_STATS_ATTR_OUTPPS
	statsAttrInBPS    = 9  // IPVS_STATS_ATTR_INBPS
	statsAttrOutBPS   = 10 // IPVS_STATS_ATTR_OUTBPS
	statsAttrPad      = 11 // IPVS_STATS_ATTR_PAD
	statsAttrMax      = 11 // IPVS_STATS_ATTR_MAX
)

// GET_INFO reply attributes (enum starting IPVS_INFO_ATTR_UNSPEC).
const (
	infoAttrUnspec      = 0 // IPVS_INFO_ATTR_UNSPEC
	infoAttrVersion     = 1 // IPVS_INFO_ATTR_VERSION: u32
	infoAttrConnTabSize = 2 // IPVS_INFO_ATTR_CONN_TAB_SIZE: u32
	infoAttrMax         = 2 // IPVS_INFO_ATTR_MAX
)
