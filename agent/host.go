package agent

import (
	"context"

	"github.com/l3dsr/l3dsr/internal/bgp"
	"github.com/l3dsr/l3dsr/internal/icmprelay"
)

// StartSpeaker is Options.StartBGP on a host: GoBGP, embedded.
func StartSpeaker(ctx context.Context, c bgp.Config) (Speaker, error) { return bgp.Start(ctx, c) }

// OpenRelay is Options.OpenRelay on a host: packet sockets in this network
// namespace.
func OpenRelay() (Relay, error) { return icmprelay.Open() }
