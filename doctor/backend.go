package doctor

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/realserver"
)

// bpfState is the tc-BPF backend of this namespace as doctor reads it
// (internal/bpfdsr; bpfhost.go).
type bpfState struct {
	// noFS says why no bpffs is there to pin the maps in; nil: there is.
	noFS error
	// installed: the namespace has the backend's pinned maps.
	installed bool
	// attached are the interfaces the program is on.
	attached []string
}

// bpfState reads the backend once; a Host without the bpf func (a build or
// a fake without the backend) has none.
func (c *checker) bpfState() (bpfState, error) {
	if c.bpfRead || c.h.bpf == nil {
		return c.bpf, nil
	}
	s, err := c.h.bpf()
	if err != nil {
		return bpfState{}, fmt.Errorf("reading the tc-BPF backend: %w", err)
	}
	c.bpf, c.bpfRead = s, true
	return s, nil
}

// backend names the backend that serves the table ("bpf", "xt_DADDR", or
// "" when units need none or none does) and, for BPF, checks that the
// program is on every interface the real server's packets come in by. The
// mapping check says what is wrong when no backend serves the table.
func (c *checker) backend(units []realserver.Config, rs realserver.Report) (string, error) {
	b, err := c.bpfState()
	if err != nil {
		return "", err
	}
	if !b.installed {
		if c.h.ModuleLoaded("xt_DADDR") && slices.ContainsFunc(units, usesTable) {
			return "xt_DADDR", nil
		}
		return "", nil
	}
	for _, name := range c.bpfWanted(units, rs.Ingress) {
		if slices.Contains(b.attached, name) {
			continue
		}
		c.add(problem, "backend", fmt.Sprintf("the tc-BPF program is not attached to %s", name),
			fmt.Sprintf("the table is served by the tc-BPF backend, which rewrites only on the interfaces it is attached to: packets for the VIPs that come in by %s keep the server's address and reach no socket", name),
			c.attachFix())
	}
	return "bpf", nil
}

// bpfWanted are the interfaces the program must be on: the --ingress ones
// where the record has them, else those holding the addresses the
// director's packets are sent to (an addr-mode RIP, a dscp-mode local
// address); a dscp-mode VIP without one takes any address of the server,
// so every interface with one.
func (c *checker) bpfWanted(units []realserver.Config, ingress realserver.Ingress) []string {
	if len(ingress) > 0 {
		return slices.Clone(ingress)
	}
	dests := map[netip.Addr]bool{}
	anyAddr := false
	for _, u := range units {
		switch {
		case modeOf(u) == dsrtypes.ModeAddr && u.RIP.IsValid():
			dests[u.RIP] = true
		case modeOf(u) == dsrtypes.ModeDSCP && u.Local.IsValid():
			dests[u.Local] = true
		case modeOf(u) == dsrtypes.ModeDSCP:
			anyAddr = true
		}
	}
	var out []string
	for _, l := range c.links {
		if l.Loopback() {
			continue
		}
		if slices.ContainsFunc(c.addrs, func(a rtnl.Addr) bool {
			return a.Index == l.Index && (anyAddr || dests[a.Prefix.Addr()])
		}) {
			out = append(out, l.Name)
		}
	}
	return out
}

func (c *checker) attachFix() string {
	if c.e.file != "" {
		return c.e.apply() + " (it attaches the program to the ingress interfaces; the agent also attaches links that appear later)"
	}
	return "l3dsr realserver up --backend bpf --vip VIP ... again (it attaches the program to the ingress interfaces), or run l3dsr agent, which also attaches links that appear later"
}

// noBackend is the finding when no backend serves the table, with the
// BPF one's missing piece named when the build has that backend.
func (c *checker) noBackend() error {
	b, err := c.bpfState()
	if err != nil {
		return err
	}
	if c.h.bpf == nil {
		c.add(problem, "module", "the xt_DADDR module is not loaded",
			"nothing rewrites a marked packet to its VIP: the packets reach no socket",
			"modprobe xt_DADDR")
		return nil
	}
	up := "l3dsr realserver up --backend bpf --vip VIP ..."
	if c.e.file != "" {
		up = "put backend: bpf in the realserver section of " + c.e.file + ", then " + c.e.apply()
	}
	if b.noFS != nil {
		up = "mount -t bpf bpf /sys/fs/bpf, " + up
	}

	why := "nothing rewrites a marked packet to its VIP: the packets reach no socket"
	if b.noFS != nil {
		why += fmt.Sprintf("; the tc-BPF backend needs a bpffs to pin its maps in (%v)", b.noFS)
	}
	c.add(problem, "module", "no backend serves the table: the xt_DADDR module is not loaded and the tc-BPF backend is not installed",
		why, "modprobe xt_DADDR, or "+up)
	return nil
}
