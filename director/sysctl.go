package director

import "github.com/l3dsr/l3dsr/internal/undo"

// setting is one kernel setting the director needs, and why.
type setting struct {
	name, value, why string
}

// sysctls lists the settings for l3dsr's services among those given:
// forwarding only for the families in use, the IPVS settings whenever there
// is a service. Services of others (ipvsadm's, keepalived's) need nothing
// of l3dsr, and may want conntrack.
func sysctls(svcs []Service) []setting {
	var v4, v6 bool
	for _, s := range svcs {
		if !s.Managed {
			continue
		}
		if s.VIP.Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return settingsFor(v4, v6)
}

// settingsFor are the settings of l3dsr's services of the families given.
func settingsFor(v4, v6 bool) []setting {
	var out []setting
	if !v4 && !v6 {
		return nil
	}
	if v4 {
		out = append(out, setting{"net.ipv4.ip_forward", "1",
			"IPVS masquerading and tunnelling forward the client's packets to another host"})
	}
	if v6 {
		out = append(out, setting{"net.ipv6.conf.all.forwarding", "1",
			"IPVS masquerading and tunnelling forward the client's packets to another host"})
	}
	return append(out,
		setting{"net.ipv4.vs.conntrack", "0",
			"the director sees only the client's half of each flow: with conntrack=1 netfilter calls the client's ACKs INVALID and drops them"},
		setting{"net.ipv4.vs.expire_nodest_conn", "1",
			"when a real server is deleted, its flows are dropped at their next packet so the client's retry is scheduled to a live one"},
		setting{"net.ipv4.vs.expire_quiescent_template", "1",
			"when a real server's weight is set to 0, persistent clients are moved instead of sticking to it"},
	)
}

// ensureSysctls sets what is not yet set, and says what it changed. A
// setting found as it should be is not read again in the batch: only one
// this call set can be undone (by u).
func (b *Batch) ensureSysctls(settings []setting, u *undo.Stack) ([]string, error) {
	d := b.d
	var changes []string
	for _, sc := range settings {
		if b.sysctlsOK[sc] {
			continue
		}
		old, err := d.host.sysctl(sc.name)
		if err != nil {
			return changes, err
		}
		if old == sc.value {
			if b.sysctlsOK == nil {
				b.sysctlsOK = map[setting]bool{}
			}
			b.sysctlsOK[sc] = true
			continue
		}
		if err := d.host.setSysctl(sc.name, sc.value); err != nil {
			return changes, err
		}
		name, prev := sc.name, old
		u.Push("restore sysctl "+name+"="+prev, func() error { return d.host.setSysctl(name, prev) })
		changes = append(changes, "sysctl "+sc.name+"="+sc.value+" (was "+old+")")
	}
	return changes, nil
}
