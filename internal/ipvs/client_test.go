package ipvs

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var addr = netip.MustParseAddr

const ack = netlink.Request | netlink.Acknowledge

// checkRequest compares a request with the command, flags and attributes
// the kernel must receive.
func checkRequest(t *testing.T, r request, cmd uint8, flags netlink.HeaderFlags, want ...attr) {
	t.Helper()
	if r.cmd != cmd || r.version != genlVersion {
		t.Errorf("command %d version %d, want %d version %d", r.cmd, r.version, cmd, genlVersion)
	}
	if r.flags != flags {
		t.Errorf("flags %v, want %v", r.flags, flags)
	}
	if wantb := marshal(want...); !bytes.Equal(r.data, wantb) {
		t.Errorf("attributes\n got %x\nwant %x", r.data, wantb)
	}
}

func TestCreateServiceAttributes(t *testing.T) {
	tests := []struct {
		name string
		svc  Service
		want []attr
	}{
		{"IPv4 TCP, defaults", Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80}, []attr{
			a(svcAttrAF, u16(unix.AF_INET)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, []byte{10, 0, 0, 1}),
			a(svcAttrPort, []byte{0, 80}), a(svcAttrSchedName, str("wlc")), a(svcAttrFlags, flagsAttr(0)),
			a(svcAttrTimeout, u32(0)), a(svcAttrNetmask, []byte{0xff, 0xff, 0xff, 0xff}),
		}},
		{"IPv4-mapped address is IPv4", Service{Protocol: ProtoTCP, Address: addr("::ffff:10.0.0.1"), Port: 8080, Scheduler: "rr"}, []attr{
			a(svcAttrAF, u16(unix.AF_INET)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, []byte{10, 0, 0, 1}),
			a(svcAttrPort, []byte{0x1f, 0x90}), a(svcAttrSchedName, str("rr")), a(svcAttrFlags, flagsAttr(0)),
			a(svcAttrTimeout, u32(0)), a(svcAttrNetmask, []byte{0xff, 0xff, 0xff, 0xff}),
		}},
		{"IPv6 UDP", Service{Protocol: ProtoUDP, Address: addr("2001:db8::1"), Port: 53, Scheduler: "mh", Flags: flagSchedMHPort}, []attr{
			a(svcAttrAF, u16(unix.AF_INET6)), a(svcAttrProtocol, u16(17)),
			a(svcAttrAddr, addr("2001:db8::1").AsSlice()), a(svcAttrPort, []byte{0, 53}),
			a(svcAttrSchedName, str("mh")), a(svcAttrFlags, flagsAttr(0x10)), a(svcAttrTimeout, u32(0)),
			a(svcAttrNetmask, u32(128)),
		}},
		{"firewall mark", Service{FWMark: 7, Scheduler: "sh", Flags: flagSchedSHFallback | flagSchedSHPort}, []attr{
			a(svcAttrAF, u16(unix.AF_INET)), a(svcAttrFWMark, u32(7)),
			a(svcAttrSchedName, str("sh")), a(svcAttrFlags, flagsAttr(0x18)), a(svcAttrTimeout, u32(0)),
			a(svcAttrNetmask, []byte{0xff, 0xff, 0xff, 0xff}),
		}},
		{"IPv6 firewall mark", Service{Family: unix.AF_INET6, FWMark: 0x10000}, []attr{
			a(svcAttrAF, u16(unix.AF_INET6)), a(svcAttrFWMark, u32(0x10000)),
			a(svcAttrSchedName, str("wlc")), a(svcAttrFlags, flagsAttr(0)), a(svcAttrTimeout, u32(0)),
			a(svcAttrNetmask, u32(128)),
		}},
		{"SCTP", Service{Protocol: ProtoSCTP, Address: addr("192.0.2.7"), Port: 3868, Scheduler: "rr"}, []attr{
			a(svcAttrAF, u16(unix.AF_INET)), a(svcAttrProtocol, u16(132)), a(svcAttrAddr, []byte{192, 0, 2, 7}),
			a(svcAttrPort, []byte{0x0f, 0x1c}), a(svcAttrSchedName, str("rr")), a(svcAttrFlags, flagsAttr(0)),
			a(svcAttrTimeout, u32(0)), a(svcAttrNetmask, []byte{0xff, 0xff, 0xff, 0xff}),
		}},
		{"persistence, netmask, one-packet, engine", Service{
			Protocol: ProtoUDP, Address: addr("10.0.0.5"), Port: 5060, Scheduler: "wrr",
			Flags: FlagPersistent | FlagOnePacket, Timeout: 300, Netmask: 0xffffff00, PEName: "sip",
		}, []attr{
			a(svcAttrAF, u16(unix.AF_INET)), a(svcAttrProtocol, u16(17)), a(svcAttrAddr, []byte{10, 0, 0, 5}),
			a(svcAttrPort, []byte{0x13, 0xc4}), a(svcAttrSchedName, str("wrr")), a(svcAttrPEName, str("sip")),
			a(svcAttrFlags, flagsAttr(0x5)), a(svcAttrTimeout, u32(300)), a(svcAttrNetmask, []byte{255, 255, 255, 0}),
		}},
		// The kernel keeps a service's flags as given; the director tags its
		// dr-mode services with the top bit, which no IPVS flag uses.
		{"a flag IPVS does not define", Service{Protocol: ProtoTCP, Address: addr("10.0.0.3"), Port: 80, Flags: 1 << 31}, []attr{
			a(svcAttrAF, u16(unix.AF_INET)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, []byte{10, 0, 0, 3}),
			a(svcAttrPort, []byte{0, 80}), a(svcAttrSchedName, str("wlc")), a(svcAttrFlags, flagsAttr(0x80000000)),
			a(svcAttrTimeout, u32(0)), a(svcAttrNetmask, []byte{0xff, 0xff, 0xff, 0xff}),
		}},
		{"IPv6 persistence prefix", Service{
			Protocol: ProtoTCP, Address: addr("2001:db8::2"), Port: 443, Flags: FlagPersistent, Timeout: 60, Netmask: 64,
		}, []attr{
			a(svcAttrAF, u16(unix.AF_INET6)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, addr("2001:db8::2").AsSlice()),
			a(svcAttrPort, []byte{0x01, 0xbb}), a(svcAttrSchedName, str("wlc")), a(svcAttrFlags, flagsAttr(1)),
			a(svcAttrTimeout, u32(60)), a(svcAttrNetmask, u32(64)),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, c := newFake(t, nil)
			if err := c.CreateService(tt.svc); err != nil {
				t.Fatal(err)
			}
			checkRequest(t, k.only(), cmdNewService, ack, nest(cmdAttrService, tt.want...))
		})
	}
}

// Update sends the whole service too; get and remove send only its key.
func TestServiceCommands(t *testing.T) {
	s := Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "rr", Flags: FlagPersistent, Timeout: 10}
	key := []attr{a(svcAttrAF, u16(2)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, []byte{10, 0, 0, 1}), a(svcAttrPort, n16(80))}
	full := append(append([]attr{}, key...), a(svcAttrSchedName, str("rr")), a(svcAttrFlags, flagsAttr(1)),
		a(svcAttrTimeout, u32(10)), a(svcAttrNetmask, n32(0xffffffff)))

	k, c := newFake(t, nil)
	if err := c.UpdateService(s); err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdSetService, ack, nest(cmdAttrService, full...))

	k, c = newFake(t, nil)
	if err := c.RemoveService(s); err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdDelService, ack, nest(cmdAttrService, key...))

	k, c = newFake(t, func(r request) ([]genetlink.Message, error) {
		return []genetlink.Message{reply(cmdNewService, nest(cmdAttrService, a(svcAttrAF, u16(2)),
			a(svcAttrProtocol, u16(6)), a(svcAttrAddr, inet(10, 0, 0, 1)), a(svcAttrPort, n16(80)),
			a(svcAttrSchedName, str("rr")), a(svcAttrFlags, flagsAttr(3)), a(svcAttrTimeout, u32(10)),
			a(svcAttrNetmask, n32(0xffffffff))))}, nil
	})
	got, err := c.Service(s)
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdGetService, netlink.Request, nest(cmdAttrService, key...))
	want := Service{Family: 2, Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "rr",
		Flags: FlagPersistent | flagHashed, Timeout: 10, Netmask: 0xffffffff}
	if got != want {
		t.Errorf("Service = %+v, want %+v", got, want)
	}

	k, c = newFake(t, nil)
	if err := c.zeroStats(&s); err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdZero, ack, nest(cmdAttrService, key...))

	k, c = newFake(t, nil)
	if err := c.zeroStats(nil); err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdZero, ack)

	k, c = newFake(t, nil)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdFlush, ack)
}

func TestCreateDestinationAttributes(t *testing.T) {
	v4 := Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80}
	v4key := nest(cmdAttrService, a(svcAttrAF, u16(2)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, []byte{10, 0, 0, 1}), a(svcAttrPort, n16(80)))
	v6 := Service{Protocol: ProtoTCP, Address: addr("2001:db8::1"), Port: 443}
	v6key := nest(cmdAttrService, a(svcAttrAF, u16(10)), a(svcAttrProtocol, u16(6)), a(svcAttrAddr, addr("2001:db8::1").AsSlice()), a(svcAttrPort, n16(443)))
	fw := Service{FWMark: 9}
	fwkey := nest(cmdAttrService, a(svcAttrAF, u16(2)), a(svcAttrFWMark, u32(9)))
	rip := []byte{10, 1, 0, 10}
	// dest is the destination nest of a create: the key, the method,
	// weight and thresholds, then the tunnel's attributes if any.
	dest := func(addr []byte, port, fam uint16, fwd, weight, upper, lower uint32, tun ...attr) attr {
		return nest(cmdAttrDest, append([]attr{a(destAttrAddr, addr), a(destAttrPort, n16(port)), a(destAttrAddrFamily, u16(fam)),
			a(destAttrFwdMethod, u32(fwd)), a(destAttrWeight, u32(weight)), a(destAttrUThresh, u32(upper)), a(destAttrLThresh, u32(lower))}, tun...)...)
	}

	tests := []struct {
		name string
		svc  Service
		dest Destination
		want []attr
	}{
		{"masquerade to another port", v4, Destination{Address: addr("10.1.0.10"), Port: 8080, Forward: Masquerade, Weight: 100, UpperThreshold: 50, LowerThreshold: 10}, []attr{v4key, dest(rip, 8080, 2, 0, 100, 50, 10)}},
		{"masquerade, port from the service", v4, Destination{Address: addr("10.1.0.10"), Forward: Masquerade, Weight: 1}, []attr{v4key, dest(rip, 80, 2, 0, 1, 0, 0)}},
		{"local", v4, Destination{Address: addr("10.1.0.10"), Forward: Local, Weight: 2}, []attr{v4key, dest(rip, 80, 2, 1, 2, 0, 0)}},
		{"route, weight 0", v4, Destination{Address: addr("10.1.0.10"), Forward: Route}, []attr{v4key, dest(rip, 80, 2, 3, 0, 0, 0)}},
		{"IPIP tunnel sends no tunnel attributes", v4, Destination{Address: addr("10.1.0.10"), Forward: Tunnel, Weight: 3}, []attr{v4key, dest(rip, 80, 2, 2, 3, 0, 0)}},
		{"GUE tunnel", v4, Destination{Address: addr("10.1.0.10"), Forward: Tunnel, Weight: 3, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelFlagChecksum}, []attr{v4key, dest(rip, 80, 2, 2, 3, 0, 0, a(destAttrTunType, u8(1)), a(destAttrTunPort, n16(6080)), a(destAttrTunFlags, u16(1)))}},
		{"GRE tunnel", v4, Destination{Address: addr("10.1.0.10"), Forward: Tunnel, Weight: 3, TunnelType: TunnelGRE}, []attr{v4key, dest(rip, 80, 2, 2, 3, 0, 0, a(destAttrTunType, u8(2)), a(destAttrTunPort, n16(0)), a(destAttrTunFlags, u16(0)))}},
		{"IPv6 masquerade", v6, Destination{Address: addr("fd00::10"), Forward: Masquerade, Weight: 7}, []attr{v6key, dest(addr("fd00::10").AsSlice(), 443, 10, 0, 7, 0, 0)}},
		{"IPv4 tunnel destination of an IPv6 service", v6, Destination{Address: addr("10.1.0.10"), Forward: Tunnel, Weight: 1}, []attr{v6key, dest(rip, 443, 2, 2, 1, 0, 0)}},
		{"firewall-mark service keeps port 0", fw, Destination{Address: addr("10.1.0.10"), Forward: Route, Weight: 1}, []attr{fwkey, dest(rip, 0, 2, 3, 1, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, c := newFake(t, nil)
			if err := c.CreateDestination(tt.svc, tt.dest); err != nil {
				t.Fatal(err)
			}
			checkRequest(t, k.only(), cmdNewDest, ack, tt.want...)

			// An update sends the same; a removal only the key.
			k, c = newFake(t, nil)
			if err := c.UpdateDestination(tt.svc, tt.dest); err != nil {
				t.Fatal(err)
			}
			checkRequest(t, k.only(), cmdSetDest, ack, tt.want...)

			k, c = newFake(t, nil)
			if err := c.RemoveDestination(tt.svc, tt.dest); err != nil {
				t.Fatal(err)
			}
			var destKey attr
			ad, _ := netlink.UnmarshalAttributes(tt.want[1].Data)
			destKey = nest(cmdAttrDest, ad[:3]...)
			checkRequest(t, k.only(), cmdDelDest, ack, tt.want[0], destKey)
		})
	}
}

// statsNest32 is the kernel's IPVS_*_ATTR_STATS: u32 counters and rates,
// u64 byte counters.
func statsNest32(typ uint16, s Stats) attr {
	return nest(typ, a(statsAttrConns, u32(uint32(s.Connections))), a(statsAttrInPkts, u32(uint32(s.PacketsIn))),
		a(statsAttrOutPkts, u32(uint32(s.PacketsOut))), a(statsAttrInBytes, u64(s.BytesIn)), a(statsAttrOutBytes, u64(s.BytesOut)),
		a(statsAttrCPS, u32(uint32(s.CPS))), a(statsAttrInPPS, u32(uint32(s.PPSIn))), a(statsAttrOutPPS, u32(uint32(s.PPSOut))),
		a(statsAttrInBPS, u32(uint32(s.BPSIn))), a(statsAttrOutBPS, u32(uint32(s.BPSOut))))
}

// statsNest64 is IPVS_*_ATTR_STATS64: every value a u64 (with the pad
// attributes nla_put_u64_64bit may add).
func statsNest64(typ uint16, s Stats) attr {
	return nest(typ, a(statsAttrPad, nil), a(statsAttrConns, u64(s.Connections)), a(statsAttrInPkts, u64(s.PacketsIn)),
		a(statsAttrOutPkts, u64(s.PacketsOut)), a(statsAttrInBytes, u64(s.BytesIn)), a(statsAttrOutBytes, u64(s.BytesOut)),
		a(statsAttrCPS, u64(s.CPS)), a(statsAttrInPPS, u64(s.PPSIn)), a(statsAttrOutPPS, u64(s.PPSOut)),
		a(statsAttrInBPS, u64(s.BPSIn)), a(statsAttrOutBPS, u64(s.BPSOut)))
}

var (
	// big has counters past 32 bits; its 32-bit copy is what the 32-bit
	// nest carries (truncated).
	big   = Stats{Connections: 5_000_000_000, PacketsIn: 1 << 33, PacketsOut: 7, BytesIn: 1 << 40, BytesOut: 9, CPS: 1, PPSIn: 2, PPSOut: 3, BPSIn: 4, BPSOut: 5}
	small = Stats{Connections: 11, PacketsIn: 22, PacketsOut: 33, BytesIn: 1 << 35, BytesOut: 55, CPS: 6, PPSIn: 7, PPSOut: 8, BPSIn: 9, BPSOut: 10}
)

func TestServicesDump(t *testing.T) {
	svcAttrs := func(stats ...attr) []genetlink.Message {
		return []genetlink.Message{
			reply(cmdNewService, nest(cmdAttrService, append([]attr{a(svcAttrAF, u16(2)), a(svcAttrProtocol, u16(6)),
				a(svcAttrAddr, inet(10, 0, 0, 1)), a(svcAttrPort, n16(80)), a(svcAttrSchedName, str("wlc")),
				a(svcAttrFlags, flagsAttr(3)), a(svcAttrTimeout, u32(300)), a(svcAttrNetmask, n32(0xffffff00))}, stats...)...)),
			reply(cmdNewService, nest(cmdAttrService, append([]attr{a(svcAttrAF, u16(10)), a(svcAttrFWMark, u32(5)),
				a(svcAttrSchedName, str("mh")), a(svcAttrPEName, str("sip")), a(svcAttrFlags, flagsAttr(0x12)),
				a(svcAttrTimeout, u32(0)), a(svcAttrNetmask, u32(64))}, stats...)...)),
			reply(cmdNewService, nest(cmdAttrService, append([]attr{a(svcAttrAF, u16(10)), a(svcAttrProtocol, u16(132)),
				a(svcAttrAddr, addr("2001:db8::5").AsSlice()), a(svcAttrPort, n16(3868)), a(svcAttrSchedName, str("rr")),
				a(svcAttrFlags, flagsAttr(2)), a(svcAttrTimeout, u32(0)), a(svcAttrNetmask, u32(128))}, stats...)...)),
		}
	}
	want := func(st Stats) []Service {
		return []Service{
			{Family: 2, Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "wlc", Flags: FlagPersistent | flagHashed, Timeout: 300, Netmask: 0xffffff00, Stats: st},
			{Family: 10, FWMark: 5, Scheduler: "mh", PEName: "sip", Flags: flagHashed | flagSchedMHPort, Netmask: 64, Stats: st},
			{Family: 10, Protocol: ProtoSCTP, Address: addr("2001:db8::5"), Port: 3868, Scheduler: "rr", Flags: flagHashed, Netmask: 128, Stats: st},
		}
	}
	truncated := Stats{Connections: uint64(uint32(big.Connections)), PacketsIn: uint64(uint32(big.PacketsIn)), PacketsOut: 7, BytesIn: 1 << 40, BytesOut: 9, CPS: 1, PPSIn: 2, PPSOut: 3, BPSIn: 4, BPSOut: 5}
	tests := []struct {
		name  string
		stats []attr
		want  Stats
	}{
		{"STATS64 preferred", []attr{statsNest32(svcAttrStats, big), statsNest64(svcAttrStats64, big)}, big},
		{"STATS64 before STATS", []attr{statsNest64(svcAttrStats64, small), statsNest32(svcAttrStats, big)}, small},
		{"32-bit STATS only", []attr{statsNest32(svcAttrStats, big)}, truncated},
		{"no stats", nil, Stats{}},
		{"a counter of 2 bytes", []attr{nest(svcAttrStats64, a(statsAttrInPkts, u16(7)))}, Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, c := newFake(t, func(request) ([]genetlink.Message, error) { return svcAttrs(tt.stats...), nil })
			got, err := c.Services()
			if tt.name == "a counter of 2 bytes" {
				if err == nil || !strings.Contains(err.Error(), "statistics attribute 2 of 2 bytes, want 4 or 8") {
					t.Fatalf("Services = %v, %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRequest(t, k.only(), cmdGetService, netlink.Request|netlink.Dump)
			sameList(t, "service", got, want(tt.want))
		})
	}
}

func TestDestinationsDump(t *testing.T) {
	s := Service{Protocol: ProtoTCP, Address: addr("2001:db8::1"), Port: 443}
	dests := []genetlink.Message{
		reply(cmdNewDest, nest(cmdAttrDest, a(destAttrAddr, addr("fd00::10").AsSlice()), a(destAttrPort, n16(8443)),
			a(destAttrFwdMethod, u32(0)), a(destAttrWeight, u32(100)), a(destAttrTunType, u8(0)), a(destAttrTunPort, n16(0)),
			a(destAttrTunFlags, u16(0)), a(destAttrUThresh, u32(50)), a(destAttrLThresh, u32(5)),
			a(destAttrActiveConns, u32(3)), a(destAttrInactConns, u32(4)), a(destAttrPersistConns, u32(2)),
			a(destAttrAddrFamily, u16(10)), statsNest32(destAttrStats, big), statsNest64(destAttrStats64, big))),
		// An IPv4 tunnel destination: its address in the first 4 bytes.
		reply(cmdNewDest, nest(cmdAttrDest, a(destAttrAddr, inet(10, 1, 0, 20)), a(destAttrPort, n16(443)),
			a(destAttrFwdMethod, u32(2|0x80)), a(destAttrWeight, u32(1)), a(destAttrTunType, u8(1)), a(destAttrTunPort, n16(6080)),
			a(destAttrTunFlags, u16(2)), a(destAttrUThresh, u32(0)), a(destAttrLThresh, u32(0)),
			a(destAttrActiveConns, u32(0)), a(destAttrInactConns, u32(0)), a(destAttrPersistConns, u32(0)),
			a(destAttrAddrFamily, u16(2)), statsNest32(destAttrStats, small))),
		// An old kernel: no family attribute, the service's family holds.
		reply(cmdNewDest, nest(cmdAttrDest, a(destAttrAddr, addr("fd00::11").AsSlice()), a(destAttrPort, n16(443)),
			a(destAttrFwdMethod, u32(3)), a(destAttrWeight, u32(0xffffffff)), a(destAttrUThresh, u32(0)), a(destAttrLThresh, u32(0)))),
	}
	k, c := newFake(t, func(request) ([]genetlink.Message, error) { return dests, nil })
	got, err := c.Destinations(s)
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdGetDest, netlink.Request|netlink.Dump, nest(cmdAttrService, a(svcAttrAF, u16(10)),
		a(svcAttrProtocol, u16(6)), a(svcAttrAddr, addr("2001:db8::1").AsSlice()), a(svcAttrPort, n16(443))))
	small32 := small
	want := []Destination{
		{Address: addr("fd00::10"), Port: 8443, Family: 10, Forward: Masquerade, Weight: 100, UpperThreshold: 50, LowerThreshold: 5, ActiveConns: 3, InactiveConns: 4, PersistConns: 2, Stats: big},
		{Address: addr("10.1.0.20"), Port: 443, Family: 2, Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelFlagRemoteChecksum, Stats: small32},
		{Address: addr("fd00::11"), Port: 443, Family: 10, Forward: Route, Weight: -1},
	}
	sameList(t, "destination", got, want)
}

// The kernel answers a destination dump of a missing service with an empty
// dump: the client asks for the service to tell.
func TestDestinationsOfMissingService(t *testing.T) {
	k, c := newFake(t, func(r request) ([]genetlink.Message, error) {
		if r.cmd == cmdGetService {
			return nil, genltest.Error(int(unix.ESRCH))
		}
		return nil, nil
	})
	_, err := c.Destinations(Service{Protocol: ProtoUDP, Address: addr("10.0.0.1"), Port: 53})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if want := "ipvs: list destinations of udp 10.0.0.1:53: not found"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(k.requests) != 2 || k.requests[0].cmd != cmdGetDest || k.requests[1].cmd != cmdGetService {
		t.Errorf("requests %+v, want a GET_DEST dump then GET_SERVICE", k.requests)
	}

	// An existing service without destinations is an empty list.
	_, c = newFake(t, func(r request) ([]genetlink.Message, error) {
		if r.cmd == cmdGetService {
			return []genetlink.Message{reply(cmdNewService, nest(cmdAttrService, a(svcAttrAF, u16(2)), a(svcAttrFWMark, u32(1))))}, nil
		}
		return nil, nil
	})
	if d, err := c.Destinations(Service{FWMark: 1}); err != nil || len(d) != 0 {
		t.Errorf("Destinations = %v, %v; want none and no error", d, err)
	}
}

func TestErrors(t *testing.T) {
	svc := Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80}
	dst := Destination{Address: addr("10.1.0.10"), Forward: Masquerade, Weight: 1}
	tests := []struct {
		name  string
		errno unix.Errno
		op    func(c *Client) error
		is    error // ErrNotFound, ErrExists or nil
		text  string
	}{
		{"create existing service", unix.EEXIST, func(c *Client) error { return c.CreateService(svc) }, ErrExists,
			"ipvs: create service tcp 10.0.0.1:80: exists"},
		{"remove missing service", unix.ESRCH, func(c *Client) error { return c.RemoveService(svc) }, ErrNotFound,
			"ipvs: remove service tcp 10.0.0.1:80: not found"},
		{"update missing service", unix.ESRCH, func(c *Client) error { return c.UpdateService(svc) }, ErrNotFound,
			"ipvs: update service tcp 10.0.0.1:80: not found"},
		{"get missing service", unix.ESRCH, func(c *Client) error { _, err := c.Service(svc); return err }, ErrNotFound,
			"ipvs: get service tcp 10.0.0.1:80: not found"},
		{"zero missing service", unix.ESRCH, func(c *Client) error { return c.zeroStats(&svc) }, ErrNotFound,
			"ipvs: zero counters of service tcp 10.0.0.1:80: not found"},
		{"create existing destination", unix.EEXIST, func(c *Client) error { return c.CreateDestination(svc, dst) }, ErrExists,
			"ipvs: create destination 10.1.0.10:80 of tcp 10.0.0.1:80: exists"},
		{"destination of a missing service", unix.ESRCH, func(c *Client) error { return c.CreateDestination(svc, dst) }, ErrNotFound,
			"ipvs: create destination 10.1.0.10:80 of tcp 10.0.0.1:80: service not found"},
		{"remove missing destination", unix.ENOENT, func(c *Client) error { return c.RemoveDestination(svc, dst) }, ErrNotFound,
			"ipvs: remove destination 10.1.0.10:80 of tcp 10.0.0.1:80: not found"},
		{"update missing destination", unix.ENOENT, func(c *Client) error { return c.UpdateDestination(svc, dst) }, ErrNotFound,
			"ipvs: update destination 10.1.0.10:80 of tcp 10.0.0.1:80: not found"},
		{"unknown scheduler", unix.ENOENT, func(c *Client) error {
			return c.CreateService(Service{Protocol: ProtoUDP, Address: addr("10.0.0.2"), Port: 53, Scheduler: "nosuch"})
		}, ErrNoScheduler, `ipvs: create service udp 10.0.0.2:53: scheduler "nosuch" is not available: load it with 'modprobe ip_vs_nosuch', or check the name`},
		{"unknown scheduler on update", unix.ENOENT, func(c *Client) error {
			return c.UpdateService(Service{FWMark: 3, Scheduler: "nosuch"})
		}, ErrNoScheduler, `ipvs: update service fwmark 3 (IPv4): scheduler "nosuch" is not available: load it with 'modprobe ip_vs_nosuch', or check the name`},
		{"unknown persistence engine", unix.ENOENT, func(c *Client) error {
			return c.CreateService(Service{Protocol: ProtoUDP, Address: addr("10.0.0.2"), Port: 5060, Scheduler: "rr", PEName: "nope", Flags: FlagPersistent, Timeout: 5})
		}, ErrNoScheduler, `ipvs: create service udp 10.0.0.2:5060: scheduler "rr" or persistence engine "nope" is not available: load them with 'modprobe -a ip_vs_rr ip_vs_pe_nope', or check the names`},
		{"permission", unix.EPERM, func(c *Client) error { return c.Flush() }, nil,
			"ipvs: flush: operation not permitted (IPVS needs CAP_NET_ADMIN in the network namespace: run as root)"},
		{"other errno", unix.EINVAL, func(c *Client) error { return c.CreateService(svc) }, nil,
			"ipvs: create service tcp 10.0.0.1:80: invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := newFake(t, errno(tt.errno))
			err := tt.op(c)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.text {
				t.Errorf("error\n got %q\nwant %q", err, tt.text)
			}
			for _, kind := range []error{ErrNotFound, ErrExists, ErrNoScheduler} {
				if errors.Is(err, kind) != (kind == tt.is) {
					t.Errorf("errors.Is(err, %v) = %v, want %v", kind, !(kind == tt.is), kind == tt.is)
				}
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("errors.Is(err, %v) is false: the errno must stay reachable", tt.errno)
			}
			var e *opError
			var ke *nl.KernelError
			if !errors.As(err, &e) || !errors.As(err, &ke) || ke.Errno != tt.errno {
				t.Errorf("err is not an *opError with errno %v: %#v", tt.errno, err)
			}
		})
	}
}

// Bad input is refused before anything is sent, with an error naming the
// value.
func TestValidation(t *testing.T) {
	svc := Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80}
	tests := []struct {
		name string
		op   func(c *Client) error
		text string
	}{
		{"no protocol", func(c *Client) error { return c.CreateService(Service{Address: addr("10.0.0.1"), Port: 80}) }, "no protocol and no firewall mark"},
		{"ICMP", func(c *Client) error { return c.CreateService(Service{Protocol: 1, Address: addr("10.0.0.1")}) }, "protocol proto(1) is not balanced by IPVS"},
		{"no address", func(c *Client) error { return c.CreateService(Service{Protocol: ProtoTCP, Port: 80}) }, "tcp service has no address"},
		{"fwmark with address", func(c *Client) error { return c.CreateService(Service{FWMark: 1, Address: addr("10.0.0.1")}) }, "firewall-mark service 1 has a protocol, address or port"},
		{"family mismatch", func(c *Client) error {
			return c.CreateService(Service{Family: unix.AF_INET6, Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80})
		}, "service address 10.0.0.1 is not of family 10"},
		{"bad family", func(c *Client) error { return c.CreateService(Service{Family: 7, FWMark: 1}) }, "address family 7 is not supported"},
		{"long scheduler", func(c *Client) error {
			return c.CreateService(Service{FWMark: 1, Scheduler: "averyveryverylongname"})
		}, `scheduler name "averyveryverylongname" is longer than 15 bytes`},
		{"IPv6 netmask", func(c *Client) error {
			return c.CreateService(Service{Protocol: ProtoTCP, Address: addr("2001:db8::1"), Port: 1, Netmask: 0xffffff00})
		}, "IPv6 persistence netmask 4294967040 is not a prefix length"},
		{"negative weight", func(c *Client) error {
			return c.CreateDestination(svc, Destination{Address: addr("10.1.0.1"), Weight: -1})
		}, "weight -1 is negative"},
		{"thresholds", func(c *Client) error {
			return c.CreateDestination(svc, Destination{Address: addr("10.1.0.1"), UpperThreshold: 5, LowerThreshold: 6})
		}, "lower threshold 6 is above the upper threshold 5"},
		{"cross-family masquerade", func(c *Client) error {
			return c.CreateDestination(svc, Destination{Address: addr("fd00::1"), Forward: Masquerade})
		}, "only Tunnel forwarding can cross families"},
		{"route changes port", func(c *Client) error {
			return c.CreateDestination(svc, Destination{Address: addr("10.1.0.1"), Port: 8080, Forward: Route})
		}, "route forwarding cannot change the port (80 to 8080): use port 0 or 80"},
		{"GUE without port", func(c *Client) error {
			return c.CreateDestination(svc, Destination{Address: addr("10.1.0.1"), Forward: Tunnel, TunnelType: TunnelGUE})
		}, "a GUE tunnel needs TunnelPort"},
		{"tunnel options on masquerade", func(c *Client) error {
			return c.CreateDestination(svc, Destination{Address: addr("10.1.0.1"), TunnelType: TunnelGRE})
		}, "they apply to Tunnel only"},
		{"unknown forward", func(c *Client) error {
			return c.UpdateDestination(svc, Destination{Address: addr("10.1.0.1"), Forward: 4})
		}, "forwarding method 4 is unknown"},
		{"no destination address", func(c *Client) error { return c.RemoveDestination(svc, Destination{}) }, "destination has no address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, c := newFake(t, nil)
			err := tt.op(c)
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err = %v, want one containing %q", err, tt.text)
			}
			if len(k.requests) != 0 {
				t.Errorf("%d requests sent for invalid input", len(k.requests))
			}
		})
	}
}

func TestInfo(t *testing.T) {
	k, c := newFake(t, func(request) ([]genetlink.Message, error) {
		return []genetlink.Message{reply(cmdSetInfo, a(infoAttrVersion, u32(0x010201)), a(infoAttrConnTabSize, u32(4096)))}, nil
	})
	info, err := c.info()
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, k.only(), cmdGetInfo, netlink.Request)
	if info != (ipvsInfo{version: "1.2.1", connTableSize: 4096}) {
		t.Errorf("Info = %+v", info)
	}
}

func TestFamilyMissing(t *testing.T) {
	conn := genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, genltest.Error(int(unix.ENOENT))
	})
	_, err := newClient(conn)
	if !errors.Is(err, ErrNotAvailable) || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("err = %v, want ErrNotAvailable wrapping ENOENT", err)
	}
	if want := "ipvs: IPVS not available: load the ip_vs module (modprobe ip_vs)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err := newInNetNS(-1); err == nil || !strings.Contains(err.Error(), "descriptor -1 is not valid") {
		t.Errorf("newInNetNS(-1) = %v", err)
	}
}

// A reply the package cannot read is an error, not a zero value.
func TestMalformedReplies(t *testing.T) {
	tests := []struct {
		name string
		msg  genetlink.Message
		text string
	}{
		{"wrong command", reply(cmdNewDest, nest(cmdAttrService)), "reply with command 5, want 1"},
		{"no service nest", reply(cmdNewService, a(cmdAttrDest, nil)), "reply without attribute 1"},
		{"bad family", reply(cmdNewService, nest(cmdAttrService, a(svcAttrAF, u16(7)))), "service with address family 7"},
		{"short address", reply(cmdNewService, nest(cmdAttrService, a(svcAttrAF, u16(10)), a(svcAttrProtocol, u16(6)),
			a(svcAttrAddr, []byte{1, 2, 3, 4}), a(svcAttrPort, n16(1)))), "address attribute of 4 bytes for family 10"},
		{"bad stats", reply(cmdNewService, nest(cmdAttrService, a(svcAttrAF, u16(2)), a(svcAttrFWMark, u32(1)),
			nest(svcAttrStats64, a(statsAttrConns, []byte{1, 2})))), "statistics attribute 1 of 2 bytes"},
		{"bad flags", reply(cmdNewService, nest(cmdAttrService, a(svcAttrAF, u16(2)), a(svcAttrFWMark, u32(1)),
			a(svcAttrFlags, u32(1)))), "flags attribute of 4 bytes, want 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := newFake(t, func(request) ([]genetlink.Message, error) { return []genetlink.Message{tt.msg}, nil })
			_, err := c.Services()
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err = %v, want one containing %q", err, tt.text)
			}
		})
	}
}

// A bad service in a destination command is named with the destination.
func TestDestinationOfBadService(t *testing.T) {
	k, c := newFake(t, nil)
	err := c.CreateDestination(Service{Protocol: ProtoTCP, Port: 80}, Destination{Address: addr("10.1.0.1")})
	want := "ipvs: create destination 10.1.0.1:0 of tcp (no address):80: tcp service has no address: set Address (or use FWMark)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if len(k.requests) != 0 {
		t.Errorf("%d requests sent", len(k.requests))
	}
}
