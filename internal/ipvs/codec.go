package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// defaultScheduler is the scheduler of a service created without one, as
// with ipvsadm.
const defaultScheduler = "wlc"

// normalize checks a service's key and options and fills in the defaults
// the kernel needs (family, scheduler, netmask). The returned error names
// the bad value and what to use instead.
func (s Service) normalize() (Service, error) {
	s.Address = s.Address.Unmap()
	fam := s.family()
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return s, fmt.Errorf("address family %d is not supported: use unix.AF_INET (%d) or unix.AF_INET6 (%d)", fam, unix.AF_INET, unix.AF_INET6)
	}
	s.Family = fam
	if s.FWMark != 0 {
		if s.Protocol != 0 || s.Address.IsValid() || s.Port != 0 {
			return s, fmt.Errorf("firewall-mark service %d has a protocol, address or port (%v %v:%d): leave them unset, the mark alone selects the traffic", s.FWMark, s.Protocol, s.Address, s.Port)
		}
	} else {
		switch s.Protocol {
		case ProtoTCP, ProtoUDP, ProtoSCTP:
		case 0:
			return s, errors.New("service has no protocol and no firewall mark: set Protocol (tcp, udp, sctp) with Address and Port, or FWMark")
		default:
			return s, fmt.Errorf("protocol %v is not balanced by IPVS: use tcp, udp or sctp", s.Protocol)
		}
		if !s.Address.IsValid() {
			return s, fmt.Errorf("%v service has no address: set Address (or use FWMark)", s.Protocol)
		}
		if addrFamily(s.Address) != fam {
			return s, fmt.Errorf("service address %v is not of family %d: leave Family 0 to take it from the address", s.Address, fam)
		}
	}
	if len(s.Scheduler) >= schedNameMaxLen {
		return s, fmt.Errorf("scheduler name %q is longer than %d bytes", s.Scheduler, schedNameMaxLen-1)
	}
	if len(s.PEName) >= peNameMaxLen {
		return s, fmt.Errorf("persistence engine name %q is longer than %d bytes", s.PEName, peNameMaxLen-1)
	}
	if fam == unix.AF_INET6 && s.Netmask > 128 {
		return s, fmt.Errorf("IPv6 persistence netmask %d is not a prefix length: use 1..128", s.Netmask)
	}
	if s.Netmask == 0 {
		s.Netmask = 0xffffffff
		if fam == unix.AF_INET6 {
			s.Netmask = 128
		}
	}
	if s.Scheduler == "" {
		s.Scheduler = defaultScheduler
	}
	return s, nil
}

// normalize checks a destination for service s (normalized) and fills in
// its defaults: the family from the address, the port from the service.
func (d Destination) normalize(s Service) (Destination, error) {
	d.Address = d.Address.Unmap()
	if !d.Address.IsValid() {
		return d, errors.New("destination has no address: set Address")
	}
	fam := d.family()
	if addrFamily(d.Address) != fam {
		return d, fmt.Errorf("destination address %v is not of family %d: leave Family 0 to take it from the address", d.Address, fam)
	}
	d.Family = fam
	if d.Port == 0 && s.FWMark == 0 {
		d.Port = s.Port
	}
	return d, nil
}

// check validates a destination's options for a create or update.
func (d Destination) check(s Service) error {
	switch d.Forward {
	case Masquerade, Local, Tunnel, Route:
	default:
		return fmt.Errorf("forwarding method %d is unknown: use Masquerade, Local, Tunnel or Route", uint32(d.Forward))
	}
	if d.Family != s.Family && d.Forward != Tunnel {
		return fmt.Errorf("destination %v is not of the service's address family: only Tunnel forwarding can cross families", d.Address)
	}
	if s.FWMark == 0 && (d.Forward == Tunnel || d.Forward == Route) && d.Port != s.Port {
		return fmt.Errorf("%v forwarding cannot change the port (%d to %d): use port 0 or %d", d.Forward, s.Port, d.Port, s.Port)
	}
	if d.Weight < 0 {
		return fmt.Errorf("weight %d is negative: use 0 (no new connections) to %d", d.Weight, int32(^uint32(0)>>1))
	}
	if d.LowerThreshold > d.UpperThreshold {
		return fmt.Errorf("lower threshold %d is above the upper threshold %d", d.LowerThreshold, d.UpperThreshold)
	}
	if d.Forward != Tunnel && (d.TunnelType != TunnelIPIP || d.TunnelPort != 0 || d.TunnelFlags != 0) {
		return fmt.Errorf("tunnel type, port or flags set for %v forwarding: they apply to Tunnel only", d.Forward)
	}
	switch d.TunnelType {
	case TunnelIPIP:
		if d.TunnelPort != 0 || d.TunnelFlags != 0 {
			return errors.New("tunnel port or flags set for an IPIP tunnel: they apply to GUE and GRE only")
		}
	case TunnelGUE:
		if d.TunnelPort == 0 {
			return errors.New("a GUE tunnel needs TunnelPort (the destination's UDP port for GUE)")
		}
	case TunnelGRE:
	default:
		return fmt.Errorf("tunnel type %d is unknown: use TunnelIPIP, TunnelGUE or TunnelGRE", uint8(d.TunnelType))
	}
	if d.TunnelFlags&^(TunnelFlagChecksum|TunnelFlagRemoteChecksum) != 0 {
		return fmt.Errorf("tunnel flags %#x have unknown bits", d.TunnelFlags)
	}
	return nil
}

func addrFamily(a netip.Addr) uint16 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// encodeService writes the attributes that identify a service and, when
// full, the rest of it, as NEW_SERVICE and SET_SERVICE need it: every
// option is sent, so an update replaces them all.
func encodeService(ae *netlink.AttributeEncoder, s Service, full bool) {
	ae.Uint16(svcAttrAF, s.Family)
	if s.FWMark != 0 {
		ae.Uint32(svcAttrFWMark, s.FWMark)
	} else {
		ae.Uint16(svcAttrProtocol, uint16(s.Protocol))
		ae.Bytes(svcAttrAddr, s.Address.AsSlice())
		ae.Bytes(svcAttrPort, be16(s.Port))
	}
	if !full {
		return
	}
	ae.String(svcAttrSchedName, s.Scheduler)
	if s.PEName != "" {
		ae.String(svcAttrPEName, s.PEName)
	}
	// struct ip_vs_flags: the mask says which flags to set; all of them.
	flags := binary.NativeEndian.AppendUint32(nil, uint32(s.Flags))
	ae.Bytes(svcAttrFlags, binary.NativeEndian.AppendUint32(flags, 0xffffffff))
	ae.Uint32(svcAttrTimeout, s.Timeout)
	// The kernel reads the netmask as a be32: an IPv4 mask in network
	// order, but an IPv6 prefix length as the raw number.
	if s.Family == unix.AF_INET6 {
		ae.Uint32(svcAttrNetmask, s.Netmask)
	} else {
		ae.Bytes(svcAttrNetmask, binary.BigEndian.AppendUint32(nil, s.Netmask))
	}
}

// encodeDest writes the attributes that identify a destination and, when
// full, the rest of it. The tunnel attributes are sent only for GUE and
// GRE, so that IPIP destinations work on kernels before 5.2, which do not
// know them.
func encodeDest(ae *netlink.AttributeEncoder, d Destination, full bool) {
	ae.Bytes(destAttrAddr, d.Address.AsSlice())
	ae.Bytes(destAttrPort, be16(d.Port))
	ae.Uint16(destAttrAddrFamily, d.Family)
	if !full {
		return
	}
	ae.Uint32(destAttrFwdMethod, uint32(d.Forward))
	ae.Uint32(destAttrWeight, uint32(d.Weight))
	ae.Uint32(destAttrUThresh, d.UpperThreshold)
	ae.Uint32(destAttrLThresh, d.LowerThreshold)
	if d.Forward == Tunnel && d.TunnelType != TunnelIPIP {
		ae.Uint8(destAttrTunType, uint8(d.TunnelType))
		ae.Bytes(destAttrTunPort, be16(d.TunnelPort))
		ae.Uint16(destAttrTunFlags, d.TunnelFlags)
	}
}

// decodeAddr reads an address attribute: the kernel always sends the
// 16 bytes of a union nf_inet_addr, of which IPv4 uses the first 4.
func decodeAddr(b []byte, fam uint16) (netip.Addr, error) {
	switch {
	case fam == unix.AF_INET && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case fam == unix.AF_INET6 && len(b) >= 16:
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address attribute of %d bytes for family %d", len(b), fam)
}

func decodeBE16(b []byte) (uint16, error) {
	if len(b) != 2 {
		return 0, fmt.Errorf("port attribute of %d bytes, want 2", len(b))
	}
	return binary.BigEndian.Uint16(b), nil
}

// be16Into is a field (nl.Fields) for a big-endian u16, a port.
func be16Into(dst *uint16) func([]byte) error {
	return func(b []byte) (err error) { *dst, err = decodeBE16(b); return err }
}

// statsInto is a field (nl.Fields) for a statistics nest: *dst is set when
// the nest is there.
func statsInto(dst **Stats) func(*netlink.AttributeDecoder) error {
	return func(ad *netlink.AttributeDecoder) error {
		*dst = new(Stats)
		return decodeStats(*dst)(ad)
	}
}

// decodeService reads the attributes of an IPVS_CMD_ATTR_SERVICE nest.
func decodeService(b []byte) (Service, error) {
	var s Service
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return s, err
	}
	var addr, netmask []byte
	var st32, st64 *Stats
	err = nl.Decode(ad, nl.Fields{
		svcAttrAF:        &s.Family,
		svcAttrProtocol:  (*uint16)(&s.Protocol),
		svcAttrAddr:      &addr,
		svcAttrPort:      be16Into(&s.Port),
		svcAttrFWMark:    &s.FWMark,
		svcAttrSchedName: &s.Scheduler,
		svcAttrPEName:    &s.PEName,
		svcAttrFlags: func(b []byte) error {
			if len(b) != 8 {
				return fmt.Errorf("flags attribute of %d bytes, want 8", len(b))
			}
			s.Flags = ServiceFlags(binary.NativeEndian.Uint32(b))
			return nil
		},
		svcAttrTimeout: &s.Timeout,
		svcAttrNetmask: &netmask,
		svcAttrStats:   statsInto(&st32),
		svcAttrStats64: statsInto(&st64),
	})
	if err != nil {
		return s, err
	}
	if s.Family != unix.AF_INET && s.Family != unix.AF_INET6 {
		return s, fmt.Errorf("service with address family %d", s.Family)
	}
	if addr != nil && s.FWMark == 0 {
		if s.Address, err = decodeAddr(addr, s.Family); err != nil {
			return s, err
		}
	}
	if len(netmask) == 4 {
		if s.Family == unix.AF_INET6 {
			s.Netmask = binary.NativeEndian.Uint32(netmask)
		} else {
			s.Netmask = binary.BigEndian.Uint32(netmask)
		}
	}
	s.Stats = pickStats(st32, st64)
	return s, nil
}

// decodeDest reads the attributes of an IPVS_CMD_ATTR_DEST nest of a
// service of family svcFamily.
func decodeDest(b []byte, svcFamily uint16) (Destination, error) {
	var d Destination
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return d, err
	}
	var addr []byte
	var weight uint32
	var st32, st64 *Stats
	err = nl.Decode(ad, nl.Fields{
		destAttrAddr:       &addr,
		destAttrPort:       be16Into(&d.Port),
		destAttrAddrFamily: &d.Family,
		destAttrFwdMethod:  (*uint32)(&d.Forward),
		destAttrWeight:     &weight,
		// The thresholds and the connection counts.
		destAttrUThresh:      &d.UpperThreshold,
		destAttrLThresh:      &d.LowerThreshold,
		destAttrActiveConns:  &d.ActiveConns,
		destAttrInactConns:   &d.InactiveConns,
		destAttrPersistConns: &d.PersistConns,
		// The tunnel.
		destAttrTunType:  (*uint8)(&d.TunnelType),
		destAttrTunPort:  be16Into(&d.TunnelPort),
		destAttrTunFlags: &d.TunnelFlags,
		destAttrStats:    statsInto(&st32),
		destAttrStats64:  statsInto(&st64),
	})
	if err != nil {
		return d, err
	}
	// The kernel adds connection flags to the forwarding method.
	d.Forward &= connFFwdMask
	d.Weight = int32(weight)
	if d.Family == 0 {
		// Kernels before 4.x do not send the destination's family: it is
		// the service's.
		d.Family = svcFamily
	}
	if d.Address, err = decodeAddr(addr, d.Family); err != nil {
		return d, err
	}
	d.Stats = pickStats(st32, st64)
	return d, nil
}

// decodeStats reads a statistics nest. The 32-bit nest mixes u32 counters
// with u64 byte counters and the 64-bit nest has only u64s, so each value
// is read by its length.
func decodeStats(st *Stats) func(*netlink.AttributeDecoder) error {
	// An array by attribute type, not nl.Fields: a read of IPVS decodes two
	// of these per service and per real, and a map of closures each time
	// was a tenth of the read of 4,032 services under TCG.
	dst := [...]*uint64{
		statsAttrConns:  &st.Connections,
		statsAttrInPkts: &st.PacketsIn, statsAttrOutPkts: &st.PacketsOut,
		statsAttrInBytes: &st.BytesIn, statsAttrOutBytes: &st.BytesOut,
		statsAttrCPS:   &st.CPS,
		statsAttrInPPS: &st.PPSIn, statsAttrOutPPS: &st.PPSOut,
		statsAttrInBPS: &st.BPSIn, statsAttrOutBPS: &st.BPSOut,
	}
	return func(ad *netlink.AttributeDecoder) error {
		for ad.Next() {
			t := ad.Type()
			if int(t) >= len(dst) || dst[t] == nil {
				continue // IPVS_STATS_ATTR_PAD, and newer counters
			}
			switch b := ad.Bytes(); len(b) {
			case 4:
				*dst[t] = uint64(binary.NativeEndian.Uint32(b))
			case 8:
				*dst[t] = binary.NativeEndian.Uint64(b)
			default:
				return fmt.Errorf("statistics attribute %d of %d bytes, want 4 or 8", t, len(b))
			}
		}
		return ad.Err()
	}
}

// pickStats prefers the 64-bit counters; kernels before 4.x send only the
// 32-bit ones, which wrap.
func pickStats(st32, st64 *Stats) Stats {
	switch {
	case st64 != nil:
		return *st64
	case st32 != nil:
		return *st32
	}
	return Stats{}
}
