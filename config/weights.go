package config

import (
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
)

// PlanOptions change how a plan treats the weights of the director's
// reals. The zero value plans the file's weights, as apply does.
type PlanOptions struct {
	// KeepWeights leaves the weight of a running real as it runs where the
	// file says another: a weight set by hand ('director real edit') or by
	// a health check is not reset by a repair of drift. A real the plan
	// adds gets the file's weight.
	KeepWeights bool
	// Weights, when it answers ok, is the weight real a of service k must
	// have whatever the file says or KeepWeights keeps (a down real held
	// at 0); WeightOut keeps the real out of its service (not added, or
	// deleted when it runs). Answer ok only for the reals whose weight the
	// caller holds: the others keep the file's or the running weight.
	// Plan lines say "(held)" for what it decided.
	Weights func(k director.Key, a netip.Addr) (weight int32, ok bool)
}

// WeightOut (or any weight below 0), from PlanOptions.Weights, keeps a real
// out of its service.
const WeightOut int32 = -1

// weights decides the weight a plan gives each real of the file. A drained
// real ('director real drain') is held at 0 above all: apply never undoes
// a drain, and a real the file adds while it is recorded drained comes in
// at 0 too (undrain gives it its weight), so that a drain outlives the
// real's removal and return.
type weights struct {
	PlanOptions
	// drained says whether real a of service k is drained (nil: none is).
	drained func(k director.Key, a netip.Addr) (int32, bool)
}

// of returns the weight real w of service k is to have, given the running
// one (nil when it does not run); out when it is to stay out; and why when
// the weight is not the file's.
func (ws weights) of(k director.Key, w director.Real, cur *director.Real) (weight int32, out bool, why string) {
	if ws.drained != nil {
		if _, ok := ws.drained(k, w.Addr); ok {
			return 0, false, "drained"
		}
	}
	if ws.Weights != nil {
		if v, ok := ws.Weights(k, w.Addr); ok {
			return max(v, 0), v < 0, "held"
		}
	}
	if ws.KeepWeights && cur != nil {
		return cur.Weight, false, ""
	}
	return w.Weight, false, ""
}
