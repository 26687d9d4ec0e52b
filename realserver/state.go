package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/l3dsr/l3dsr/internal/statedir"
	"golang.org/x/sys/unix"
)

// StateDirEnv overrides the root of the state directories (see
// statedir.Of), e.g. for tests.
const StateDirEnv = statedir.Env

const stateFile = "realserver.json"

// upRecord is the record of what Up changed, so that Down can undo exactly
// that. It is kept per network namespace.
type upRecord struct {
	VIPs []vipRecord `json:"vips"`
	// Sysctls set by Up, by name, with the value each had before.
	Sysctls map[string]sysctlChange `json:"sysctls,omitempty"`
	// Rules lists the map-mode rules Up appended, by family ("ipv4",
	// "ipv6"), with the iptables variant that appended them.
	Rules map[string]ruleChange `json:"rules,omitempty"`
	// Links lists the tunnel devices Up created or set up, by name.
	Links map[string]linkChange `json:"links,omitempty"`
	// Ingress is the interfaces the map-mode rules are limited to (see
	// ingress.go); none, as in the files of versions before it: any.
	Ingress Ingress `json:"ingress,omitempty"`
}

// vipRecord is one VIP that Up set up, and what Up itself added for it.
type vipRecord struct {
	// Config is the VIP's setup; its DSCP is nil in memory (the codes are
	// in Codes) and, in the file, the first code, for the previous version
	// (see toLegacy).
	Config
	// AddedAddr: the VIP was not on lo before, Up added it.
	AddedAddr bool `json:"added_addr"`
	// AddedMapping is the previous version's record of its one code's
	// mapping (see fromLegacy); Codes has it now.
	AddedMapping bool `json:"added_mapping,omitempty"`
	// AddedRIP: the RIP was on no interface before, Up put it on Dev
	// (addr mode).
	AddedRIP bool `json:"added_rip,omitempty"`
	// AddedEntry: Up added the any-DSCP entry (addr mode).
	AddedEntry bool `json:"added_entry,omitempty"`
	// Codes are the VIP's DSCP codes (dscp mode), ascending.
	Codes []codeRecord `json:"codes,omitempty"`
}

// sysctlChange is one sysctl Up set.
type sysctlChange struct {
	Old string `json:"old"`
	Set string `json:"set"`
}

// ruleChange is a map-mode rule Up appended.
type ruleChange struct {
	Variant string `json:"iptables"`
}

// linkChange is what Up did to a tunnel device.
type linkChange struct {
	Kind    string `json:"kind"`
	Created bool   `json:"created,omitempty"`
	SetUp   bool   `json:"set_up,omitempty"`
}

func (s *upRecord) vip(v Config) (int, *vipRecord) {
	for i := range s.VIPs {
		if s.VIPs[i].VIP == v.VIP {
			return i, &s.VIPs[i]
		}
	}
	return -1, nil
}

func (s *upRecord) clone() upRecord {
	c := s.cloneMaps()
	c.VIPs = slices.Clone(s.VIPs)
	for i := range c.VIPs {
		c.VIPs[i].Codes = slices.Clone(c.VIPs[i].Codes)
	}
	return c
}

// cloneMaps copies the maps of s; the records stay s's.
func (s *upRecord) cloneMaps() upRecord {
	c := upRecord{VIPs: s.VIPs, Ingress: s.Ingress, Sysctls: map[string]sysctlChange{}, Rules: map[string]ruleChange{}, Links: map[string]linkChange{}}
	for k, v := range s.Sysctls {
		c.Sysctls[k] = v
	}
	for k, v := range s.Rules {
		c.Rules[k] = v
	}
	for k, v := range s.Links {
		c.Links[k] = v
	}
	return c
}

// stateDirOf is the state directory of the calling process's network
// namespace (statedir.Of).
func stateDirOf() (string, error) { return statedir.Of() }

// loadState reads the state file of dir; a missing file is an empty state.
func loadState(dir string) (upRecord, error) {
	var s upRecord
	err := statedir.ReadJSON(filepath.Join(dir, stateFile), &s)
	if errors.Is(err, statedir.ErrCorrupt) {
		return upRecord{}, fmt.Errorf("reading the real-server state %w (move the file away only if nothing was set up: Down needs it)", err)
	}
	if err != nil {
		return upRecord{}, fmt.Errorf("reading the real-server state: %w", err)
	}
	for i := range s.VIPs {
		s.VIPs[i].fromLegacy()
	}
	return s, nil
}

// saveState writes the state atomically: a temporary file, fsynced, renamed
// over the old one. An empty state removes the file.
func saveState(dir string, s upRecord) error {
	p := filepath.Join(dir, stateFile)
	if len(s.VIPs) == 0 && len(s.Sysctls) == 0 && len(s.Rules) == 0 && len(s.Links) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the real-server state: %w", err)
		}
		return nil
	}
	out := s
	out.VIPs = make([]vipRecord, len(s.VIPs))
	for i, r := range s.VIPs {
		out.VIPs[i] = r.toLegacy()
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the real-server state: %w", err)
	}
	if err := statedir.WriteFile(p, append(b, '\n')); err != nil {
		return fmt.Errorf("writing the real-server state: %w", err)
	}
	return nil
}

// lock takes an exclusive lock on dir's lock file, so two l3dsr processes
// never interleave their changes in one namespace. The returned func
// releases it.
func lock(dir string) (func(), error) {
	unlock, err := statedir.Lock(filepath.Join(dir, "realserver.lock"), unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("locking the real-server state: %w", err)
	}
	return unlock, nil
}

// lockedState takes the lock of the record and reads it; unlock releases
// the lock.
func (m *Manager) lockedState() (st upRecord, unlock func(), err error) {
	if m.mem != nil {
		return m.mem.st, func() {}, nil // the batch holds the lock
	}
	if unlock, err = lock(m.stateDir); err != nil {
		return upRecord{}, nil, err
	}
	if st, err = loadState(m.stateDir); err != nil {
		unlock()
		return upRecord{}, nil, err
	}
	return st, unlock, nil
}
