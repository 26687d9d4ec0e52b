package config

import (
	"fmt"
	"slices"

	"github.com/l3dsr/l3dsr/director"
)

// addOrder is the order apply adds the reals of s in: for mh, the
// canonical one, which every director must share (director.SchedulerMH);
// the file's otherwise.
func addOrder(s director.Service) []director.Real {
	if s.Scheduler == director.SchedulerMH {
		return director.Canonical(s, s.Reals)
	}
	return s.Reals
}

// reorderer is what puts a running mh service's reals in canonical order:
// *director.Batch and *director.Director.
type reorderer interface {
	Reorder(k director.Key) (director.Result, error)
}

// planOrder lists a reorder for each service that stays mh in want and
// whose reals IPVS holds out of canonical order (st.OutOfOrder: made by
// hand, or by an l3dsr that did not keep the order). It goes before the
// other steps, so that a real added after it moves only the reals that
// sort after it.
func planOrder(want *Director, st director.Status, api directorAPI) []Step {
	var steps []Step
	for _, k := range st.OutOfOrder {
		i := slices.IndexFunc(want.Services, func(s Service) bool { return s.Service.Key == k })
		c := slices.IndexFunc(st.Services, func(s director.Service) bool { return s.Key == k })
		if i < 0 || c < 0 || want.Services[i].Service.Scheduler != director.SchedulerMH || !sameKind(st.Services[c], want.Services[i].Service) {
			continue // deleted, made anew, or no longer mh
		}
		steps = append(steps, Step{
			What: fmt.Sprintf("reorder the reals of service %s for mh (IPVS holds them out of order)", k),
			do: func() ([]string, []string, error) {
				r, ok := api.(reorderer)
				if !ok {
					return nil, nil, fmt.Errorf("this director cannot reorder the reals of %s", k)
				}
				return fromResult(r.Reorder(k))
			},
			// The order it had was wrong: a rollback leaves the repair.
			// Not nil, so that a first step's undo still commits
			// (committed).
			undo: func() error { return nil },
		})
	}
	return steps
}
