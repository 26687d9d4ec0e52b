package bgp

import (
	"fmt"
	"time"

	api "github.com/osrg/gobgp/v4/api"
)

// BFD is a neighbor's BFD session (RFC 5880, single hop RFC 5881). The
// router declares the director dead when Multiplier packets in a row are
// missing, at the slower of MinTx and the router's own min rx (RFC 5880
// 6.8.4): 100 ms x 3 takes a silent director's routes away in 0.3 s, where
// the hold time takes 3 s at least. The router must run BFD for the
// director's address, and UDP 3784 must pass both ways: GoBGP listens on
// it on every address of the director.
type BFD struct {
	// MinTx is how often the speaker sends, at the fastest.
	MinTx time.Duration
	// MinRx is how often the speaker wants to receive, at the fastest.
	// GoBGP declares the router dead after MinRx times Multiplier
	// without a packet; it does not slow down to the router's intervals.
	MinRx      time.Duration
	Multiplier uint8
}

// minBFDInterval is the least interval accepted: faster than this, a busy
// director's scheduler would drop sessions that are fine.
const minBFDInterval = 10 * time.Millisecond

// maxBFDInterval keeps an interval within GoBGP's 32-bit microseconds.
const maxBFDInterval = time.Hour

func (b *BFD) validate(n Neighbor) error {
	for _, iv := range []struct {
		name string
		d    time.Duration
	}{{"min tx", b.MinTx}, {"min rx", b.MinRx}} {
		if iv.d < minBFDInterval || iv.d > maxBFDInterval {
			return fmt.Errorf("bgp: neighbor %s: bfd %s interval %s is out of range: give 10ms to 1h (100ms-300ms is usual)", n.Address, iv.name, iv.d)
		}
	}
	if b.Multiplier == 0 {
		return fmt.Errorf("bgp: neighbor %s: bfd multiplier 0 is out of range: give 1 to 255 (3 is usual)", n.Address)
	}
	return nil
}

// config is b in GoBGP's terms, which counts in microseconds. The
// destination port stays GoBGP's default, RFC 5881's 3784.
func (b *BFD) config() *api.BfdPeerConfig {
	return &api.BfdPeerConfig{
		Enabled:                  true,
		DesiredMinimumTxInterval: uint32(b.MinTx / time.Microsecond),
		RequiredMinimumReceive:   uint32(b.MinRx / time.Microsecond),
		DetectionMultiplier:      uint32(b.Multiplier),
	}
}
