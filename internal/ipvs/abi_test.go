package ipvs

import (
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

// abi is the Go side of the header: every enum is mirrored but the sync
// daemon's, which this package does not use.
var abi = cheader.Mirror{
	Path:    uapiHeader,
	Missing: ": install linux-libc-dev, whose header this package's constants are checked against",
	Values:  goABI,
	Enums: []string{"IP_VS_CONN_F_TUNNEL_TYPE_IPIP", "IPVS_CMD_UNSPEC", "IPVS_CMD_ATTR_UNSPEC",
		"IPVS_SVC_ATTR_UNSPEC", "IPVS_DEST_ATTR_UNSPEC", "IPVS_STATS_ATTR_UNSPEC", "IPVS_INFO_ATTR_UNSPEC"},
	Ignored:  []string{"IPVS_DAEMON_ATTR_UNSPEC"},
	MinNames: 150,
}

// The header matches, and the comparison catches a changed value, a new
// member of a mirrored enum, a removed name and a new enum.
func TestABIMatchesUAPIHeader(t *testing.T) {
	abi.Test(t, [][4]string{
		{"swapped commands", "IPVS_CMD_DEL_DEST,\t\t/* delete destination */\n\tIPVS_CMD_GET_DEST,", "IPVS_CMD_GET_DEST,\n\tIPVS_CMD_DEL_DEST,", "IPVS_CMD_DEL_DEST: header 8, Go 7"},
		{"new dest attribute", "IPVS_DEST_ATTR_TUN_FLAGS,", "IPVS_DEST_ATTR_TUN_FLAGS,\n\tIPVS_DEST_ATTR_NEW,", "IPVS_DEST_ATTR_NEW = 16 is in the header but has no Go constant"},
		{"removed stats attribute", "\tIPVS_STATS_ATTR_PAD,\n", "", "IPVS_STATS_ATTR_PAD = 11 is in Go but not in the header"},
		{"changed flag", "#define IP_VS_SVC_F_SCHED1\t0x0008", "#define IP_VS_SVC_F_SCHED1\t0x0080", "IP_VS_SVC_F_SCHED_SH_FALLBACK: header 128, Go 8"},
		{"changed name", `"IPVS"`, `"IPVS2"`, "IPVS_GENL_NAME: header IPVS2, Go IPVS"},
		{"new enum", "#endif\t/* _IP_VS_H */", "enum { IPVS_NEW_A, IPVS_NEW_B };\n#endif", "enum IPVS_NEW_A is in the header but not known to Go"},
	})
}
