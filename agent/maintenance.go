package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/internal/statedir"
)

// The files of the namespace's state directory that BGP uses: the flag an
// operator sets, and the agent's record of what it announces.
const (
	maintenanceFile = "maintenance"
	bgpStateFile    = "bgp.json"
)

// liveWithin is how old the record of a running agent can be: the agent
// writes it every second (maintenancePoll), so an older one is of an
// agent that was killed.
const liveWithin = 10 * time.Second

// waitPoll is how often WaitWithdrawn reads the record.
var waitPoll = 100 * time.Millisecond

// BGPState is the agent's record of its BGP announcements (bgp.json).
type BGPState struct {
	Maintenance bool         `json:"maintenance"`
	Announced   []netip.Addr `json:"announced"`
	// Updated is when the agent last wrote the record; it writes it every
	// second while it runs.
	Updated time.Time `json:"updated"`
}

// Live tells whether an agent wrote s recently: one runs and announces.
func (s BGPState) Live(now time.Time) bool {
	return !s.Updated.IsZero() && now.Sub(s.Updated) < liveWithin
}

// AnnouncedText is what s says is announced, for a person: the VIPs,
// "none", or that no agent runs.
func (s BGPState) AnnouncedText(now time.Time) string {
	switch {
	case !s.Live(now):
		return "none (no agent with BGP runs here)"
	case len(s.Announced) == 0:
		return "none"
	}
	return addrList(s.Announced)
}

// StateDir is the directory of the agent's state file stateFile ("" for
// this network namespace's, /run/l3dsr/netns-INODE): where the
// maintenance flag and bgp.json are.
func StateDir(stateFile string) (string, error) {
	p, err := statePath(stateFile)
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// SetMaintenance sets (on) or clears the maintenance flag in stateDir: an
// agent with BGP withdraws every VIP within a second while it is set, and
// one that starts with it set announces nothing.
func SetMaintenance(stateDir string, on bool) error {
	path := filepath.Join(stateDir, maintenanceFile)
	var err error
	if on {
		err = statedir.WriteFile(path, []byte("on\n"))
	} else if err = os.Remove(path); errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("setting the maintenance flag: %w", err)
	}
	return nil
}

// InMaintenance tells whether the flag is set in stateDir.
func InMaintenance(stateDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(stateDir, maintenanceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the maintenance flag: %w", err)
	}
	return true, nil
}

// ReadBGPState reads the agent's record in stateDir; a missing one is the
// zero state (no agent with BGP runs).
func ReadBGPState(stateDir string) (BGPState, error) {
	var s BGPState
	path := filepath.Join(stateDir, bgpStateFile)
	if err := statedir.ReadJSON(path, &s); err != nil {
		return BGPState{}, fmt.Errorf("reading the agent's BGP record: %w: remove it; a running agent writes it again within a second", err)
	}
	return s, nil
}

func writeBGPState(stateDir string, s BGPState) error {
	slices.SortFunc(s.Announced, netip.Addr.Compare)
	if s.Announced == nil {
		s.Announced = []netip.Addr{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err == nil {
		err = statedir.WriteFile(filepath.Join(stateDir, bgpStateFile), append(b, '\n'))
	}
	if err != nil {
		return fmt.Errorf("writing the agent's BGP record: %w", err)
	}
	return nil
}

func removeBGPState(stateDir string) error {
	err := os.Remove(filepath.Join(stateDir, bgpStateFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the agent's BGP record: %w", err)
	}
	return nil
}

// WaitWithdrawn waits until the agent's record in stateDir says it is in
// maintenance and announces nothing, or fails after timeout naming what
// it still announces.
func WaitWithdrawn(ctx context.Context, stateDir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(waitPoll)
	defer t.Stop()
	for {
		s, err := ReadBGPState(stateDir)
		if err != nil {
			return err
		}
		if s.Maintenance && len(s.Announced) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if !s.Maintenance {
				return fmt.Errorf("after %s the agent has not seen the maintenance flag (bgp.json in %s says maintenance off): is it stuck? see its log (journalctl -u l3dsr-agent)", timeout, stateDir)
			}
			return fmt.Errorf("after %s the agent still announces %s: see its log (journalctl -u l3dsr-agent) for the BGP speaker's errors, or wait longer with --timeout", timeout, addrList(s.Announced))
		case <-t.C:
		}
	}
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
