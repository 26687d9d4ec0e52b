package director

import (
	"errors"
	"io/fs"
	"slices"

	"github.com/l3dsr/l3dsr/internal/undo"
)

// setting is one kernel setting the director needs, and why.
type setting struct {
	name, value, why string
}

// sysctls lists the settings for l3dsr's services among those given:
// forwarding only for the families in use, the IPVS settings whenever there
// is a service, the sloppy ones when one uses mh. Services of others
// (ipvsadm's, keepalived's) need nothing of l3dsr, and may want conntrack.
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
	return settingsFor(v4, v6, slices.ContainsFunc(svcs, usesMH))
}

// usesMH: s is l3dsr's and schedules by mh.
func usesMH(s Service) bool { return s.Managed && s.Scheduler == SchedulerMH }

// sloppy are the settings of a director that is one of several: ECMP
// moves a flow to another director when one fails or one is added, and
// that director must take the flow up mid-stream. Without them IPVS
// schedules only from a TCP SYN or an SCTP INIT, and drops the rest.
var sloppy = []setting{
	{"net.ipv4.vs.sloppy_tcp", "1",
		"with several directors (mh), a flow that ECMP moves to this one arrives mid-stream: IPVS then schedules it from any packet, not only a SYN, and mh picks the same real"},
	{"net.ipv4.vs.sloppy_sctp", "1",
		"with several directors (mh), an SCTP association that ECMP moves to this one arrives mid-stream: IPVS then schedules it from any chunk, not only an INIT"},
}

// absent says whether setting sc, which the read failed with err, is one
// a kernel may lack: sloppy_sctp exists only where IPVS has SCTP
// (CONFIG_IP_VS_PROTO_SCTP), and a kernel without it has no SCTP flow to
// take up.
func absent(sc setting, err error) bool {
	return sc.name == "net.ipv4.vs.sloppy_sctp" && errors.Is(err, fs.ErrNotExist)
}

// settingsFor are the settings of l3dsr's services of the families given,
// and of several directors when one uses mh.
func settingsFor(v4, v6, mh bool) []setting {
	var out []setting
	if mh {
		out = append(out, sloppy...)
	}
	if !v4 && !v6 {
		return out
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
		if absent(sc, err) {
			continue
		}
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
