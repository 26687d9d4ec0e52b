package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/netlink"
)

// reply is one message of the family, decoded.
type reply struct {
	cmd        uint8
	entries    []dumpEntry
	stats      *stats
	replaceID  *uint32
	generation *uint32
}

// dumpEntry is an entry as the kernel shows it.
type dumpEntry struct {
	Family, DSCP   uint8
	Local, VIP     netip.Addr // Local invalid: any
	DSCPSet        int        // <0: absent
	Packets, Bytes uint64
}

// keyString names an entry's key and value, without its counters.
func (e dumpEntry) keyString() string {
	local := "any"
	if e.Local.IsValid() {
		local = e.Local.String()
	}
	return fmt.Sprintf("%d/%d/%s", e.Family, e.DSCP, local)
}

func (e dumpEntry) valueString() string {
	return fmt.Sprintf("vip=%v dscp_set=%d", e.VIP, e.DSCPSet)
}

type stats struct {
	Rewritten, NoEntry, Errors uint64
	Entries                    uint32
}

// decodeReply decodes a message of the family, and checks that what it says
// is possible: a reply that is not is a finding.
func decodeReply(data []byte) (reply, error) {
	if len(data) < 4 {
		return reply{}, fmt.Errorf("a reply of %d bytes has no generic netlink header", len(data))
	}
	r := reply{cmd: data[0]}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return reply{}, fmt.Errorf("reply of command %d: %w", r.cmd, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case attrEntry:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				e, err := decodeEntry(nad)
				r.entries = append(r.entries, e)
				return err
			})
		case attrStats:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				var s stats
				r.stats = &s
				return nl.Decode(nad, nl.Fields{statsAttrRewritten: &s.Rewritten, statsAttrNoEntry: &s.NoEntry,
					statsAttrErrors: &s.Errors, statsAttrEntries: &s.Entries})
			})
		case attrReplaceID:
			v := ad.Uint32()
			r.replaceID = &v
		case attrGeneration:
			v := ad.Uint32()
			r.generation = &v
		case attrMode:
			if m := ad.Uint8(); m > modeMax {
				return reply{}, fmt.Errorf("reply of command %d: mode %d", r.cmd, m)
			}
		case attrHooks:
			if h := ad.Uint32(); h&^(hookIPv4|hookIPv6) != 0 {
				return reply{}, fmt.Errorf("reply of command %d: hooks %#x", r.cmd, h)
			}
		}
	}
	if err := ad.Err(); err != nil {
		return reply{}, fmt.Errorf("reply of command %d: %w", r.cmd, err)
	}
	return r, nil
}

func decodeEntry(ad *netlink.AttributeDecoder) (dumpEntry, error) {
	e := dumpEntry{DSCPSet: -1}
	var local, vip []byte
	err := nl.Decode(ad, nl.Fields{
		entryAttrFamily: &e.Family, entryAttrDSCP: &e.DSCP, entryAttrLocal: &local, entryAttrVIP: &vip,
		entryAttrPackets: &e.Packets, entryAttrBytes: &e.Bytes,
		entryAttrDSCPSet: func(b []byte) error {
			if len(b) != 1 {
				return fmt.Errorf("DSCP_SET of %d bytes", len(b))
			}
			e.DSCPSet = int(b[0])
			return nil
		},
	})
	if err != nil {
		return e, err
	}
	want := map[uint8]int{2: 4, 10: 16}[e.Family]
	switch {
	case want == 0:
		return e, fmt.Errorf("an entry of family %d", e.Family)
	case e.DSCP > dscpMax && e.DSCP != dscpAny:
		return e, fmt.Errorf("an entry of DSCP %d", e.DSCP)
	case len(vip) != want || (local != nil && len(local) != want):
		return e, fmt.Errorf("an entry of family %d with a %d-byte VIP and a %d-byte local address", e.Family, len(vip), len(local))
	case e.DSCP == dscpAny && local == nil:
		return e, fmt.Errorf("an any-DSCP entry without a local address")
	case e.DSCPSet > dscpMax:
		return e, fmt.Errorf("an entry that sets DSCP %d", e.DSCPSet)
	}
	e.VIP, _ = netip.AddrFromSlice(vip)
	if local != nil {
		e.Local, _ = netip.AddrFromSlice(local)
	}
	return e, nil
}

// decodeError is the errno of an NLMSG_ERROR (0: an ack) and the
// kernel's extended-ack message, if any.
func decodeError(flags uint16, data []byte) (errno int32, text string, err error) {
	if len(data) < 4+nlHdrLen {
		return 0, "", fmt.Errorf("an error message of %d bytes", len(data))
	}
	errno = -int32(binary.NativeEndian.Uint32(data))
	if errno < 0 {
		return 0, "", fmt.Errorf("an error message with errno %d", errno)
	}
	const capped, ackTLVs, attrMsg = 0x100, 0x200, 1
	off := 4 + nlHdrLen
	if flags&capped == 0 {
		off = 4 + int(binary.NativeEndian.Uint32(data[4:]))
	}
	if off > len(data) {
		return 0, "", fmt.Errorf("an error message quotes %d bytes of %d", off-4, len(data)-4)
	}
	if flags&ackTLVs == 0 || off == len(data) {
		return errno, "", nil
	}
	ad, err := netlink.NewAttributeDecoder(data[(off+3)&^3:])
	if err != nil {
		return 0, "", fmt.Errorf("the extended ack: %w", err)
	}
	for ad.Next() {
		if ad.Type() == attrMsg {
			text = ad.String()
		}
	}
	return errno, text, ad.Err()
}
