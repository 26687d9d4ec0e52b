package realserver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// One network namespace has one DSCP→VIP table, kept either by the
// xt_DADDR module (with its iptables map-mode rule) or by the tc-BPF
// program (attached to the ingress interfaces): every dscp- and addr-mode
// VIP of the namespace uses the same one. The record keeps it in each
// VIP's Config.Backend: "" is the module (as in files written before
// there was a choice), "bpf" the program.

// Attachment is one interface the tc-BPF program is attached to.
type Attachment struct {
	Ifname  string `json:"ifname"`
	Ifindex int    `json:"ifindex"`
	// Mode is "tcx" (kernel 6.6+) or "clsact".
	Mode string `json:"mode"`
}

// bpfAPI is what the package uses of the tc-BPF backend (internal/bpfdsr).
type bpfAPI interface {
	installed() (bool, error)
	install() error
	uninstall() error
	attach(ifname string) (changed bool, err error)
	detach(ifname string) error
	attachments() ([]Attachment, error)
}

// usesTable tells whether c's mode puts the VIP back with the table.
func usesTable(c Config) bool {
	return c.mode() == dsrtypes.ModeDSCP || c.mode() == dsrtypes.ModeAddr
}

// recorded is the backend of the table-using VIPs of st (bpf or module),
// and those VIPs; "" when there are none.
func recorded(st *upRecord) (dsrtypes.Backend, []netip.Addr) {
	var b dsrtypes.Backend
	var vips []netip.Addr
	for _, r := range st.VIPs {
		if !usesTable(r.Config) {
			continue
		}
		b = dsrtypes.BackendModule
		if r.Backend == dsrtypes.BackendBPF {
			b = dsrtypes.BackendBPF
		}
		vips = append(vips, r.VIP)
	}
	return b, vips
}

// chooseBackend is the backend c is set up with, and the line that says
// which and why (none for the module when nothing asked for a choice). A
// choice that would mix both backends in the namespace is refused before
// anything changes.
func (m *Manager) chooseBackend(ctx context.Context, st *upRecord, c Config) (dsrtypes.Backend, string, error) {
	if !usesTable(c) {
		return "", "", nil
	}
	want := c.Backend
	have, vips := recorded(st)
	switch {
	case want == "" && have != "":
		want = have
	case want == "":
		want = dsrtypes.BackendModule
	case want == dsrtypes.BackendAuto && have != "":
		return have, fmt.Sprintf("backend: %s (the one this namespace's VIPs use)", have), nil
	case want == dsrtypes.BackendAuto:
		if err := m.loadModule(ctx); err != nil {
			return dsrtypes.BackendBPF, fmt.Sprintf("backend: bpf (xt_DADDR did not load: %v)", err), nil
		}
		return dsrtypes.BackendModule, "backend: module (xt_DADDR loaded)", nil
	}
	if have != "" && have != want {
		return "", "", hostInputf("--backend %s: %s set up with the %s backend, and a network namespace has one table: take them down first ('l3dsr realserver down --vip ADDR'), or use --backend %s",
			want, vipList(vips), have, have)
	}
	if want == dsrtypes.BackendBPF {
		return want, "backend: bpf", nil
	}
	return want, "", nil
}

func vipList(vips []netip.Addr) string {
	s := make([]string, len(vips))
	for i, v := range vips {
		s[i] = v.String()
	}
	if len(s) == 1 {
		return "VIP " + s[0]
	}
	return "VIPs " + strings.Join(s, ", ")
}

// upBPF loads the program and pins its maps unless they are, and attaches
// it to the ingress interfaces, or to every link but lo when there is no
// list. Links that appear later are the agent's to attach, or a later up's.
func (m *Manager) upBPF(s *upRecord, _ *vipRecord, t *txn) error {
	return m.ensureBPF([]string(s.Ingress), t)
}

// EnsureBPF makes the tc-BPF backend serve this namespace's table without
// a VIP of the real server's (`l3dsr rule add --backend bpf`, a table kept
// by hand): the program loaded, its maps pinned, attached to every link
// but lo. It returns what it changed; a failure undoes it all.
func (m *Manager) EnsureBPF() ([]string, error) {
	var t txn
	if err := m.ensureBPF(nil, &t); err != nil {
		return nil, t.fail(err)
	}
	return t.changes, nil
}

func (m *Manager) ensureBPF(names []string, t *txn) error {
	installed, err := m.bpf.installed()
	if err != nil {
		return fmt.Errorf("looking for the tc-BPF backend: %w", err)
	}
	if !installed {
		if err := m.bpf.install(); err != nil {
			return fmt.Errorf("installing the tc-BPF backend: %w", err)
		}
		t.did("loaded the tc-BPF program and pinned its maps", m.bpf.uninstall)
	}
	if len(names) == 0 {
		links, err := m.linkList()
		if err != nil {
			return fmt.Errorf("listing links: %w", err)
		}
		for _, l := range links {
			if !l.Loopback() {
				names = append(names, l.Name)
			}
		}
	}
	for _, name := range names {
		changed, err := m.bpf.attach(name)
		if err != nil {
			return fmt.Errorf("attaching the tc-BPF program to %s: %w", name, err)
		}
		if changed {
			t.did("attached the tc-BPF program to "+name+" (ingress)", func() error { return m.bpf.detach(name) })
		}
	}
	return nil
}

// bpf removes the program and its maps with the namespace's last VIP that
// uses them.
func (d *downRun) bpf(c Config, rest []Config) {
	if c.Backend != dsrtypes.BackendBPF {
		return
	}
	for _, o := range rest {
		if usesTable(o) && o.Backend == dsrtypes.BackendBPF {
			return
		}
	}
	if d.m.table != nil {
		d.failed(d.m.table.Close())
		d.m.table = nil
	}
	if d.failed(d.m.bpf.uninstall()) {
		return
	}
	d.did("detached the tc-BPF program and unpinned its maps (the last VIP that used them)")
}

// showBPF fills in the backend of rep, and for bpf its attachments, with a
// problem when it is attached nowhere.
func (m *Manager) showBPF(st *upRecord, rep *Report) {
	b, _ := recorded(st)
	rep.Backend = b
	if b != dsrtypes.BackendBPF {
		return
	}
	as, err := m.bpf.attachments()
	switch {
	case err != nil:
		rep.Problems = append(rep.Problems, Problem{What: fmt.Sprintf("listing the tc-BPF program's attachments: %v", err), Fix: "run 'l3dsr realserver show' as root"})
	case len(as) == 0:
		rep.Problems = append(rep.Problems, Problem{What: "the tc-BPF program is attached to no interface: coded packets are not put back to their VIP", Fix: "run 'l3dsr realserver up' for one of the VIPs (it attaches the program again)"})
	}
	slices.SortFunc(as, func(a, b Attachment) int { return strings.Compare(a.Ifname, b.Ifname) })
	rep.Attachments = as
}

// noRules stands for the map-mode rule on bpf: the program sees every
// packet of the interfaces it is attached to, so no iptables rule is
// needed (and none is written).
type noRules struct{}

func (noRules) Ensure(context.Context, xtrule.Family) (bool, error) { return false, nil }
func (noRules) Delete(context.Context, xtrule.Family) error         { return nil }

// attachList is how show prints them: "eth0 (tcx), eth1 (clsact)".
func attachList(as []Attachment) string {
	if len(as) == 0 {
		return "none"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.Ifname + " (" + a.Mode + ")"
	}
	return strings.Join(s, ", ")
}
