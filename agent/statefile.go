package agent

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/statedir"
)

// statePath is where the agent keeps its record: path when given, else
// agent.json in the state directory of this network namespace
// (/run/l3dsr/netns-INODE), beside the drained reals: a director in a
// namespace has its own, and a reboot, which rebuilds IPVS from the file,
// forgets it too.
func statePath(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	dir, err := statedir.Of()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "agent.json"), nil
}

// RealHealth is the health of one real of one service, as the agent last
// saw it and what it did about it.
type RealHealth struct {
	Service string     `json:"service"` // "tcp 10.0.0.1:80"
	Real    netip.Addr `json:"real"`
	Up      bool       `json:"up"`
	Since   time.Time  `json:"since"`
	// Action is what the agent did to the real while it is down:
	// "quiesced" (weight 0), "removed", or "" (nothing: it was at 0
	// already).
	Action string `json:"action,omitempty"`
	// Last is the last probe's error, "" when it passed, and Checked
	// when that probe ended.
	Last    string    `json:"last,omitempty"`
	Checked time.Time `json:"checked"`
}

// Health is the agent's record: every checked real, and the services whose
// sorry real is in.
type Health struct {
	Reals []RealHealth `json:"reals"`
	Sorry []string     `json:"sorry,omitempty"`
}

func realID(k director.Key, a netip.Addr) string { return k.String() + " " + a.String() }

// Find returns the record of real a of service k.
func (h Health) find(k director.Key, a netip.Addr) (RealHealth, bool) {
	for _, r := range h.Reals {
		if r.Service == k.String() && r.Real == a {
			return r, true
		}
	}
	return RealHealth{}, false
}

// ReadHealth reads the agent's record from path ("" for this network
// namespace's); a missing file is an empty record (no agent runs, or it
// checks nothing).
func ReadHealth(path string) (Health, error) {
	var h Health
	path, err := statePath(path)
	if err == nil {
		err = statedir.ReadJSON(path, &h)
	}
	if err != nil {
		return h, fmt.Errorf("reading the agent's health record: %w: remove it, and restart the agent", err)
	}
	return h, nil
}

// writeHealth writes h to path atomically: a reader sees the old record or
// the new one.
func writeHealth(path string, h Health) error {
	slices.SortFunc(h.Reals, func(a, b RealHealth) int {
		return strings.Compare(a.Service+" "+a.Real.String(), b.Service+" "+b.Real.String())
	})
	slices.Sort(h.Sorry)
	b, err := json.MarshalIndent(h, "", "  ")
	if err == nil {
		err = statedir.WriteFile(path, append(b, '\n'))
	}
	if err != nil {
		return fmt.Errorf("writing the agent's health record: %w", err)
	}
	return nil
}

// Annotate writes into st each checked real's health from h: "up", or
// "down" with what the agent did ("down,quiesced"), and "sorry" on a sorry
// real that is in.
func Annotate(st *director.Status, h Health) {
	sorry := map[string]bool{}
	for _, s := range h.Sorry {
		sorry[s] = true
	}
	for i := range st.Services {
		s := &st.Services[i]
		for j := range s.Reals {
			r := &s.Reals[j]
			if rh, ok := h.find(s.Key, r.Addr); ok {
				r.Health = "up"
				if !rh.Up {
					r.Health = strings.TrimSuffix("down,"+rh.Action, ",")
				}
			} else if sorry[s.Key.String()] {
				r.Health = "sorry"
			}
		}
	}
}
