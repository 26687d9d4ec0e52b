package nl

import (
	"fmt"

	"github.com/mdlayher/netlink"
)

// Fields says where the attributes of a message or nest go, by type: a
// *uint8, *uint16, *uint32 or *uint64 takes the native-endian integer of
// that size, a *string the NUL-terminated string, a *[]byte the bytes, and
// a func([]byte) error, or a func(*netlink.AttributeDecoder) error for a
// nest, whatever it makes of them.
type Fields map[uint16]any

// Decode reads the attributes of ad into f and returns the decoder's
// error. Attributes f has no place for are skipped, so that a newer kernel
// may add some.
func Decode(ad *netlink.AttributeDecoder, f Fields) error {
	for ad.Next() {
		switch dst := f[ad.Type()].(type) {
		case nil:
		case *uint8:
			*dst = ad.Uint8()
		case *uint16:
			*dst = ad.Uint16()
		case *uint32:
			*dst = ad.Uint32()
		case *uint64:
			*dst = ad.Uint64()
		case *string:
			*dst = ad.String()
		case *[]byte:
			*dst = ad.Bytes()
		case func([]byte) error:
			ad.Do(dst)
		case func(*netlink.AttributeDecoder) error:
			ad.Nested(dst)
		default:
			typ := ad.Type()
			ad.Do(func([]byte) error { return fmt.Errorf("nl.Decode: attribute %d cannot go to a %T", typ, dst) })
		}
	}
	return ad.Err()
}
