package realserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// Report is what Show found.
type Report struct {
	VIPs    []VIPStatus    `json:"vips"`
	Sysctls []SysctlStatus `json:"sysctls"`
	// Problems lists every difference from what Up set up, with its fix.
	Problems []Problem `json:"problems"`
	// HandWritten are the DADDR rules l3dsr did not write (by hand, or
	// Yahoo's tools): the VIPs they serve, and their problems.
	HandWritten []HandRule `json:"hand_written"`
	// Ingress is the interfaces the map-mode rules are limited to; empty:
	// any (see ingress.go).
	Ingress Ingress `json:"ingress"`
	// Backend is what keeps the table of the dscp- and addr-mode VIPs
	// (module or bpf; empty: no such VIP); Attachments are the
	// interfaces the tc-BPF program is attached to.
	Backend     dsrtypes.Backend `json:"backend,omitempty"`
	Attachments []Attachment     `json:"attachments,omitempty"`
	// MapPath is how the module's table is read (mappath.go); nil on
	// bpf or without dscp- and addr-mode VIPs.
	MapPath *maptable.PathInfo `json:"map_path,omitempty"`
}

// VIPStatus is one VIP set up by Up, as it runs now.
type VIPStatus struct {
	// Config is the VIP with its first code (dscp mode).
	Config
	// DSCPs are all its codes (dscp mode), ascending: the first is
	// Config's.
	DSCPs Codes `json:"dscps,omitempty"`
	OnLo  bool  `json:"on_lo"`
	// Mapping is the map entry of the key of the VIP's first code as the
	// kernel has it (dscp mode), with its counters, in the table's JSON;
	// nil if there is none.
	Mapping *maptable.Entry `json:"mapping,omitempty"`
	// Mappings are the entries of all its codes that the kernel has, in
	// the order of DSCPs (Mapping is the first code's, when it is there).
	Mappings []maptable.Entry `json:"mappings,omitempty"`
	// RIPPresent: the RIP is on an interface (addr mode).
	RIPPresent bool `json:"rip_present,omitempty"`
	// Rule: the map-mode rule of the VIP's family is in raw PREROUTING
	// (dscp mode).
	Rule bool `json:"rule,omitempty"`
	// Tunnel is the tunnel device (ipip mode) and whether it is up.
	Tunnel   string `json:"tunnel,omitempty"`
	TunnelUp bool   `json:"tunnel_up,omitempty"`
	// ClampMSS is the MSS its SYN-ACKs are clamped to now (ipip mode), 0
	// for none.
	ClampMSS uint16 `json:"clamp_mss,omitempty"`
	OK       bool   `json:"ok"`
}

// SysctlStatus is one parameter the VIPs need.
type SysctlStatus struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Want  string `json:"want"`
	OK    bool   `json:"ok"`
}

// Problem is one thing that is not as Up set it up.
type Problem struct {
	VIP  string `json:"vip,omitempty"`
	What string `json:"what"`
	Fix  string `json:"fix"`
}

// Show reads the record of Up and checks each VIP against the running
// system. v is the iptables variant to look for a map-mode rule that Up
// did not append itself (one it appended is looked for with the variant
// that appended it). An error means the check itself could not run;
// problems found are in the Report.
func (m *Manager) Show(ctx context.Context, v xtrule.Variant) (Report, error) {
	st, err := m.load()
	if err != nil {
		return Report{}, err
	}
	rep := Report{VIPs: []VIPStatus{}, Sysctls: []SysctlStatus{}, Problems: []Problem{}, HandWritten: []HandRule{}, Ingress: append(Ingress{}, st.Ingress...)}
	hand, ours, err := m.readHandRules(ctx)
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{What: err.Error(), Fix: "fix what stops iptables from listing the raw and mangle tables, then run 'l3dsr realserver show' again"})
	}
	if len(st.VIPs) == 0 && len(hand) == 0 {
		return rep, nil
	}
	m.showBPF(&st, &rep)
	path, direct := m.showMapPath(&rep)
	direct = direct && path.Mode == maptable.ModeDirect
	lo, err := m.lo()
	if err != nil {
		return Report{}, err
	}
	addrs, err := m.net.AddrList(lo.Index)
	if err != nil {
		return Report{}, fmt.Errorf("listing the addresses of lo: %w", err)
	}
	onLo := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		onLo[a.Prefix.Addr()] = true
	}
	var clamps []clamp
	var clampErr error
	var all []rtnl.Addr // every interface's, for the RIPs
	rules := map[string]bool{}
	for _, r := range st.VIPs {
		c := r.first()
		vs := VIPStatus{Config: c, DSCPs: r.codes()}
		n := len(rep.Problems)
		bad := func(what, fix string) {
			rep.Problems = append(rep.Problems, Problem{VIP: c.VIP.String(), What: what, Fix: fix})
		}
		again := "run '" + c.upCommand() + "' (it adds back what is missing)"
		vs.OnLo = onLo[c.VIP]
		if !vs.OnLo {
			bad(fmt.Sprintf("VIP %s is not on lo: the server drops its packets instead of answering", c.VIP), again)
		}
		if c.mode() == dsrtypes.ModeAddr {
			if all == nil {
				if all, err = m.net.AddrList(0); err != nil {
					return Report{}, fmt.Errorf("listing the addresses: %w", err)
				}
			}
			showRIP(&vs, all, bad, again)
		}
		if c.mapped() {
			fam := famKey(c)
			ok, seen := rules[fam]
			if c.Backend == dsrtypes.BackendBPF {
				// The program stands for the rule; showBPF checks it.
				ok, seen = len(rep.Attachments) > 0, true
			}
			if !seen {
				rv := v
				if rc, ours := st.Rules[fam]; ours {
					rv = xtrule.Variant(rc.Variant)
				}
				if ok, err = m.newRules(rv, nil).Exists(ctx, xtFamilyOf(c)); err != nil {
					return Report{}, err
				}
				rules[fam] = ok
			}
			vs.Rule = ok
			if direct && !path.Hooks.Has(xtFamilyOf(c)) {
				bad(fmt.Sprintf("the map path is direct but the module has no %v hook: marked packets are not rewritten", xtFamilyOf(c)), "run 'l3dsr rule mode direct' again, or 'l3dsr rule mode rule'")
			} else if !ok && !direct && c.Backend != dsrtypes.BackendBPF {
				bad(fmt.Sprintf("raw PREROUTING has no map-mode rule for %v (-j DADDR --map): marked packets keep the server's address and miss the VIP's socket", xtFamilyOf(c)), again)
			}
			if tab, err := m.mapTable(); err != nil {
				bad(err.Error(), "load the module ('modprobe xt_DADDR'), then "+again)
			} else {
				for _, d := range r.Codes {
					showMapping(tab, &vs, r.withCode(d.DSCP), bad)
				}
				if c.mode() == dsrtypes.ModeAddr {
					showMapping(tab, &vs, c, bad)
				}
			}
		} else if c.mode() == dsrtypes.ModeIPIP {
			tun := tunnelOf(c)
			vs.Tunnel = tun.Name
			l, err := m.net.LinkByName(tun.Name)
			switch {
			case errors.Is(err, rtnl.ErrNotFound):
				bad(fmt.Sprintf("%s does not exist: encapsulated packets are not taken in", tun.Name), again)
			case err != nil:
				return Report{}, err
			default:
				vs.TunnelUp = l.Up()
				if !vs.TunnelUp {
					bad(fmt.Sprintf("%s is down: encapsulated packets are dropped", tun.Name), again)
				}
			}
			if clamps == nil && clampErr == nil {
				clamps, clampErr = m.clamps.List()
				if clamps == nil {
					clamps = []clamp{}
				}
			}
			for _, x := range clamps {
				if x.VIP == c.VIP {
					vs.ClampMSS = x.MSS
				}
			}
			switch {
			case clampErr != nil:
				bad(fmt.Sprintf("the MSS clamps could not be read: %v", clampErr), "check that nf_tables is available, then "+again)
			case vs.ClampMSS != c.MSS:
				bad(fmt.Sprintf("SYN-ACKs from VIP %s are clamped to MSS %d, not %d (nftables table inet %s): clients may send segments that do not fit the tunnel", c.VIP, vs.ClampMSS, c.MSS, clampTable), again)
			}
		}
		vs.OK = len(rep.Problems) == n
		rep.VIPs = append(rep.VIPs, vs)
	}
	env, err := m.rpEnv(&st)
	if err != nil {
		return Report{}, err
	}
	for _, need := range sysctlNeeds(configs(st.VIPs), env) {
		cur, err := m.sysctl.Get(need.Key)
		ss := SysctlStatus{Key: need.Key, Value: cur, Want: need.Want, OK: err == nil && need.ok(cur)}
		if err != nil {
			ss.Value = "?"
			rep.Problems = append(rep.Problems, Problem{What: err.Error(), Fix: "run 'l3dsr realserver up' for a VIP that needs it (it recreates what is missing)"})
		} else if !ss.OK {
			rep.Problems = append(rep.Problems, Problem{
				What: fmt.Sprintf("%s is %s, want %s: it %s", need.Key, cur, need.Want, need.Why),
				Fix:  fmt.Sprintf("run 'l3dsr realserver up' again for any VIP (or sysctl -w %s=%s)", need.Key, need.Want),
			})
		}
		rep.Sysctls = append(rep.Sysctls, ss)
	}
	handReport(&rep, hand, ours, st, addrs)
	rep.Problems = append(rep.Problems, m.ingressProblems(ctx, st)...)
	return rep, nil
}

// showMapping checks the mapping of c, one code of the VIP of vs.
func showMapping(tab Table, vs *VIPStatus, c Config, bad func(what, fix string)) {
	again := "run '" + c.upCommand() + "' (it adds back what is missing)"
	e := c.entry()
	got, err := tab.Get(e.Key())
	switch {
	case errors.Is(err, maptable.ErrNotFound):
		bad(fmt.Sprintf("the map has no entry for %v: marked packets are not rewritten to VIP %s", e.Key(), vs.VIP), again)
		return
	case err != nil:
		bad(fmt.Sprintf("reading the mapping %v: %v", e.Key(), err), again)
		return
	}
	got.Family = dsrtypes.FamilyOf(vs.VIP) // the family asked for, as before
	vs.Mappings = append(vs.Mappings, got)
	if c.DSCP == nil || (vs.DSCP != nil && *c.DSCP == *vs.DSCP) {
		vs.Mapping = &got
	}
	if got.VIP != vs.VIP {
		bad(fmt.Sprintf("%v maps to VIP %s, not %s", e.Key(), got.VIP, vs.VIP),
			fmt.Sprintf("run 'l3dsr rule add --replace %s --vip %s%s'", keyFlags(e, false), vs.VIP, setFlag(e)))
	} else if !sameSet(setOf(got), c.SetDSCP) {
		bad(fmt.Sprintf("%v resets the DSCP to %s, not to %s as up set it", e.Key(), setName(setOf(got)), setName(c.SetDSCP)), again)
	}
}

// Configs are the VIPs the report lists.
func (r Report) Configs() []Config {
	cs := make([]Config, 0, len(r.VIPs))
	for _, v := range r.VIPs {
		cs = append(cs, v.Config)
	}
	return cs
}

// Err is the error of a report with problems, which 'realserver show'
// exits 1 with after writing the report.
func (r Report) Err() error {
	if n := len(r.Problems); n > 0 {
		return fmt.Errorf("%d problem(s) found (listed above, each with its fix)", n)
	}
	return nil
}
