package health

import (
	"context"
	"fmt"
	"time"
)

// runProbe runs s's check once against t and says whether it passed. It ends
// by s.Timeout (the default when unset) or when ctx ends, whichever is
// first, whatever the kind; a probe cut short by its timeout fails.
func runProbe(ctx context.Context, s Spec, t Target) Result {
	s = s.WithDefaults()
	pctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	start := time.Now()
	err := probeKind(pctx, s, t)
	end := time.Now()
	if err != nil {
		// By the clock, not pctx.Err(): a read deadline set from pctx's
		// fires a hair before pctx does.
		if d, _ := pctx.Deadline(); ctx.Err() == nil && !end.Before(d) {
			err = fmt.Errorf("no answer within the timeout of %s: %w", s.Timeout, err)
		}
		err = fmt.Errorf("%s: %w", t.name(s.Kind), err)
	}
	return Result{OK: err == nil, Latency: end.Sub(start), Err: err, At: end}
}

func probeKind(ctx context.Context, s Spec, t Target) error {
	switch s.Kind {
	case KindTCP:
		return probeTCP(ctx, t)
	case KindHTTP, KindHTTPS:
		return probeHTTP(ctx, s, t)
	case KindDNS:
		return probeDNS(ctx, s, t)
	case KindExec:
		return probeExec(ctx, s, t)
	}
	return fmt.Errorf("unknown check kind %q: %s", s.Kind, KindUse)
}
