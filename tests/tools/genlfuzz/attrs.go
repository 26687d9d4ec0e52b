package main

import "encoding/binary"

// Netlink attributes written by hand, not with netlink.AttributeEncoder: the
// encoder refuses or fixes what the fuzzer means to send (a length that
// disagrees with the payload, an attribute running past the message).

const nlaNested = 0x8000 // NLA_F_NESTED

// attr is one attribute, aligned to 4 bytes.
func attr(typ uint16, payload []byte) []byte {
	return rawAttr(typ, 4+len(payload), payload)
}

// rawAttr is an attribute whose nla_len says length, whatever the payload
// really is (a short or overlong length is a mutation).
func rawAttr(typ uint16, length int, payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(length))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u8(v uint8) []byte { return []byte{v} }

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// genlHeader is the generic netlink header: command, version, reserved.
func genlHeader(cmd, version uint8) []byte { return []byte{cmd, version, 0, 0} }
