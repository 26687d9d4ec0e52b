package agent

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/internal/bgp"
)

// Speaker is the BGP speaker the agent announces its VIPs with
// (*bgp.Speaker; tests give a fake).
type Speaker interface {
	Announce(ctx context.Context, vip, nextHop netip.Addr) error
	Withdraw(ctx context.Context, vip netip.Addr) error
	Sessions(ctx context.Context) ([]bgp.Session, error)
	Stop(ctx context.Context) error
}

// maintenancePoll is how often the agent looks at the maintenance flag,
// and so how soon `director maintenance on` withdraws.
const maintenancePoll = time.Second

// speakerTimeout bounds one call to the speaker: a stuck speaker must not
// hang the loop, whose watchdog pings would stop.
const speakerTimeout = 10 * time.Second

// announcer announces each VIP of the bgp section while a real serves it,
// and withdraws it when none does, in maintenance, and at stop. Only the
// agent's loop calls its methods. A nil *announcer (no bgp section) does
// nothing.
type announcer struct {
	a  *runner
	sp Speaker
	// cfg is the running section: the speaker's identity as at the start,
	// the announce list, next hops and delay as of the last reload.
	cfg config.BGP
	dir string
	// announced is each VIP announced, with the next hop it has.
	announced map[netip.Addr]netip.Addr
	maint     bool
	// said is what the record last written says.
	said string
}

// startBGP starts the speaker of the file's bgp section, and announces
// what a real serves (unless in maintenance).
func (a *runner) startBGP(ctx context.Context) error {
	c := a.settings.BGP
	if c == nil {
		return nil
	}
	// The speaker lives until stopBGP, not until ctx ends: it must still
	// be there to withdraw at the stop.
	sp, err := a.o.StartBGP(context.WithoutCancel(ctx), speakerConfig(*c, a.log))
	if err != nil {
		return fmt.Errorf("starting the BGP speaker: %w", err)
	}
	b := &announcer{a: a, sp: sp, cfg: *c, dir: filepath.Dir(a.checks.path), announced: map[netip.Addr]netip.Addr{}}
	a.bgp = b
	a.reg.BGP.SetSessions(func() ([]bgp.Session, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return sp.Sessions(ctx)
	})
	for _, e := range c.Announce {
		a.reg.BGP.Track(e.VIP)
	}
	a.log.Info("bgp: speaker started", "asn", c.ASN, "router_id", c.RouterID, "neighbors", len(c.Neighbors), "announce", len(c.Announce))
	b.poll(ctx)
	return nil
}

func speakerConfig(c config.BGP, log *slog.Logger) bgp.Config {
	out := bgp.Config{ASN: c.ASN, RouterID: c.RouterID, ListenPort: c.ListenPort, Log: log}
	for _, n := range c.Neighbors {
		nb := bgp.Neighbor{Address: n.Address, ASN: n.ASN, Password: n.Password,
			HoldTime: n.HoldTime, Port: n.Port, Multihop: n.Multihop, LocalAddress: n.LocalAddress}
		if b := n.BFD; b != nil {
			nb.BFD = &bgp.BFD{MinTx: b.MinTx, MinRx: b.MinRx, Multiplier: b.Multiplier}
		}
		out.Neighbors = append(out.Neighbors, nb)
	}
	return out
}

// nextHop is vip's next hop: its own, else its family's, else the zero
// Addr (the session's own address).
func nextHop(c config.BGP, e config.BGPAnnounce) netip.Addr {
	switch {
	case e.NextHop.IsValid():
		return e.NextHop
	case e.VIP.Is4():
		return c.NextHop4
	}
	return c.NextHop6
}

// sync announces each VIP of the announce list a real serves, unless in
// maintenance, and withdraws every other. What fails is logged, counted,
// and tried again at the next sync, since announced keeps what the
// speaker really has.
func (b *announcer) sync(ctx context.Context) {
	if b == nil {
		return
	}
	b.update(ctx)
	b.save(false)
}

func (b *announcer) update(ctx context.Context) {
	want := map[netip.Addr]netip.Addr{}
	listed := map[netip.Addr]bool{}
	for _, e := range b.cfg.Announce {
		listed[e.VIP] = true
		if !b.maint && b.a.checks.serving(b.a.file, e.VIP) {
			want[e.VIP] = nextHop(b.cfg, e)
		}
	}
	for _, vip := range slices.SortedFunc(maps.Keys(b.announced), netip.Addr.Compare) {
		if _, ok := want[vip]; ok {
			continue
		}
		reason := "no real serves it"
		switch {
		case !listed[vip]:
			reason = "removed from the file"
		case b.maint:
			reason = "maintenance"
		}
		if b.withdraw(ctx, vip, reason) && !listed[vip] {
			b.a.reg.BGP.Forget(vip)
		}
	}
	for _, e := range b.cfg.Announce {
		nh, ok := want[e.VIP]
		if had, was := b.announced[e.VIP]; !ok || (was && had == nh) {
			continue
		}
		b.announce(ctx, e.VIP, nh)
	}
}

func (b *announcer) announce(ctx context.Context, vip, nh netip.Addr) {
	ctx, cancel := context.WithTimeout(ctx, speakerTimeout)
	defer cancel()
	log := b.a.log.With("vip", vip, "next_hop", nextHopText(nh))
	if err := b.sp.Announce(ctx, vip, nh); err != nil {
		b.failed()
		log.Error("bgp: announcing VIP; trying again at the next sync", "err", err)
		return
	}
	_, again := b.announced[vip]
	b.announced[vip] = nh
	b.a.reg.BGP.Changed(vip, true)
	if again {
		log.Info("announced VIP", "reason", "its next hop changed")
		return
	}
	log.Info("announced VIP", "reason", "a real serves it")
}

// withdraw tells whether the speaker withdrew vip.
func (b *announcer) withdraw(ctx context.Context, vip netip.Addr, reason string) bool {
	ctx, cancel := context.WithTimeout(ctx, speakerTimeout)
	defer cancel()
	if err := b.sp.Withdraw(ctx, vip); err != nil {
		b.failed()
		b.a.log.Error("bgp: withdrawing VIP; trying again at the next sync", "vip", vip, "reason", reason, "err", err)
		return false
	}
	delete(b.announced, vip)
	b.a.reg.BGP.Changed(vip, false)
	b.a.log.Info("withdrew VIP", "vip", vip, "reason", reason)
	return true
}

func (b *announcer) failed() {
	b.a.reg.BGP.RouteError()
	b.a.reg.Agent.Error()
}

func nextHopText(nh netip.Addr) string {
	if !nh.IsValid() {
		return "self"
	}
	return nh.String()
}

// poll reads the maintenance flag and syncs; the record is written
// either way, which tells the CLI an agent runs.
func (b *announcer) poll(ctx context.Context) {
	if b == nil {
		return
	}
	on, err := InMaintenance(b.dir)
	if err != nil {
		b.a.reg.Agent.Error()
		b.a.log.Error("bgp: reading the maintenance flag; keeping the state it had", "maintenance", b.maint, "err", err)
		on = b.maint
	}
	if on != b.maint {
		b.maint = on
		b.a.log.Info("bgp: maintenance "+onOff(on), "flag", b.dir+"/"+maintenanceFile)
	}
	b.a.reg.BGP.SetMaintenance(on)
	b.update(ctx)
	b.save(true)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// save writes the record when what it says changed, and every poll
// (heartbeat): a sync runs after each batch of probe results, which on a
// director of many reals is many times a second.
func (b *announcer) save(heartbeat bool) {
	s := BGPState{Maintenance: b.maint, Announced: slices.SortedFunc(maps.Keys(b.announced), netip.Addr.Compare), Updated: time.Now()}
	said := fmt.Sprint(s.Maintenance, s.Announced)
	if !heartbeat && said == b.said {
		return
	}
	if err := writeBGPState(b.dir, s); err != nil {
		b.a.reg.Agent.Error()
		b.a.log.Error("bgp: saving the record", "err", err)
		return
	}
	b.said = said
}

// reloadBGP takes the announce list, next hops and delay of the reloaded
// file; the speaker's identity and neighbors change only at a restart,
// since changing them means new sessions, and the routers' flows with
// them. It returns the section the agent now runs.
func (a *runner) reloadBGP(ctx context.Context, next *config.BGP) *config.BGP {
	b := a.bgp
	if b == nil {
		if next != nil {
			a.log.Warn("reload: the bgp section takes effect only at a restart", "file", a.o.File)
		}
		return nil
	}
	defer b.sync(ctx)
	if next == nil {
		a.log.Warn("reload: the file has no bgp section; the speaker stops only at a restart, and keeps announcing the VIPs a real serves", "file", a.o.File)
		return &b.cfg
	}
	if diff := identityDiff(b.cfg, *next); diff != "" {
		a.log.Warn("reload: the BGP "+diff+" change only at a restart; the speaker keeps the running ones", "file", a.o.File)
	}
	kept := map[netip.Addr]bool{}
	for _, e := range next.Announce {
		kept[e.VIP] = true
		a.reg.BGP.Track(e.VIP)
	}
	for _, e := range b.cfg.Announce {
		// One announced is forgotten when the sync withdraws it.
		if _, on := b.announced[e.VIP]; !kept[e.VIP] && !on {
			a.reg.BGP.Forget(e.VIP)
		}
	}
	b.cfg.Announce, b.cfg.NextHop4, b.cfg.NextHop6 = next.Announce, next.NextHop4, next.NextHop6
	b.cfg.WithdrawDelay, b.cfg.Pos = next.WithdrawDelay, next.Pos
	return &b.cfg
}

// identityDiff names what of the speaker differs between a and b, "" for
// nothing.
func identityDiff(a, b config.BGP) string {
	var d []string
	if a.ASN != b.ASN {
		d = append(d, "asn")
	}
	if a.RouterID != b.RouterID {
		d = append(d, "router_id")
	}
	if a.ListenPort != b.ListenPort {
		d = append(d, "listen_port")
	}
	noPos := func(n config.BGPNeighbor) config.BGPNeighbor { n.Pos = config.Pos{}; return n }
	if !slices.EqualFunc(a.Neighbors, b.Neighbors, func(x, y config.BGPNeighbor) bool { return noPos(x) == noPos(y) }) {
		d = append(d, "neighbors")
	}
	return strings.Join(d, ", ")
}

// stopBGP withdraws every VIP, keeps forwarding for withdraw_delay so
// that the routers move the flows to the other directors first, and then
// ends the sessions (Cease).
func (a *runner) stopBGP() {
	b := a.bgp
	if b == nil {
		return
	}
	// The agent's ctx has ended: each call gets its own time.
	ctx := context.Background()
	withdrew := len(b.announced) > 0
	for _, vip := range slices.SortedFunc(maps.Keys(b.announced), netip.Addr.Compare) {
		b.withdraw(ctx, vip, "stopping")
	}
	if withdrew && b.cfg.WithdrawDelay > 0 {
		status := fmt.Sprintf("withdrawn; forwarding for %s", b.cfg.WithdrawDelay)
		if a.o.Notifier != nil {
			_ = a.o.Notifier.notify("STATUS=" + status)
		}
		a.log.Info("bgp: "+status+" (withdraw_delay), so that the routers move the flows first", "delay", b.cfg.WithdrawDelay)
		time.Sleep(b.cfg.WithdrawDelay)
	}
	ctx, cancel := context.WithTimeout(ctx, speakerTimeout)
	defer cancel()
	if err := b.sp.Stop(ctx); err != nil {
		a.reg.Agent.Error()
		a.log.Error("bgp: stopping the speaker", "err", err)
	} else {
		a.log.Info("bgp: sessions closed (Cease)")
	}
	a.reg.BGP.SetSessions(nil)
	// No record: no agent announces here now.
	if err := removeBGPState(b.dir); err != nil {
		a.log.Error("bgp: at the stop", "err", err)
	}
}
