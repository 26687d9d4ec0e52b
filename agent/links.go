package agent

import (
	"context"
	"log/slog"
	"slices"

	"github.com/l3dsr/l3dsr/internal/rtnl"
)

// bpfLinks is what the link keeper needs of the host: the tc-BPF backend
// (internal/bpfdsr), the real server's record and rtnetlink. hostLinks in
// bpfhost.go is the host's; tests give a fake.
type bpfLinks interface {
	// installed tells whether this network namespace has the backend's
	// pinned maps: without them there is nothing to attach.
	installed() (bool, error)
	// ingress is the --ingress interfaces of the real server's record;
	// none: every link but lo wants the program.
	ingress(ctx context.Context) ([]string, error)
	links() ([]rtnl.Link, error)
	// attach is idempotent: changed is false when the program was there.
	attach(ifname string) (changed bool, err error)
	// watch sends on the channel after link events (RTNLGRP_LINK) until
	// ctx ends; a lost event is harmless, the repair tick looks again.
	watch(ctx context.Context) (<-chan struct{}, error)
}

// linkKeeper keeps the tc-BPF program on every link the real server's
// setup wants, links that appear after `realserver up` included: the
// program is attached per interface, and a new interface (a VLAN, a bond
// that comes back, a veth of a container host) would otherwise see its
// packets pass unrewritten.
type linkKeeper struct {
	h   bpfLinks
	log *slog.Logger
	// failed is called once per failed attach (the agent's error counter).
	failed func()
}

// wantedLinks is the names of the links that want the program: the
// ingress list where the record has one (those that exist), else every
// link but loopback ones.
func wantedLinks(links []rtnl.Link, ingress []string) []string {
	var out []string
	for _, l := range links {
		if len(ingress) > 0 {
			if slices.Contains(ingress, l.Name) {
				out = append(out, l.Name)
			}
			continue
		}
		if !l.Loopback() {
			out = append(out, l.Name)
		}
	}
	slices.Sort(out)
	return out
}

// reconcile attaches the program where it is missing. It changes nothing
// when the namespace has no BPF backend (the module serves the table, or
// nothing does). A failure is logged and tried again on the next call.
func (k *linkKeeper) reconcile(ctx context.Context, why string) {
	if k == nil {
		return
	}
	ok, err := k.h.installed()
	if err != nil {
		k.fail("bpf: checking for the backend's pins", "err", err)
		return
	}
	if !ok {
		return
	}
	ing, err := k.h.ingress(ctx)
	if err != nil {
		k.fail("bpf: reading the real server's ingress interfaces", "err", err)
		return
	}
	links, err := k.h.links()
	if err != nil {
		k.fail("bpf: listing links", "err", err)
		return
	}
	for _, name := range wantedLinks(links, ing) {
		changed, err := k.h.attach(name)
		if err != nil {
			k.fail("bpf: attaching the program; trying again on the next repair", "link", name, "err", err)
			continue
		}
		if changed {
			k.log.Info("bpf: attached the program", "link", name, "why", why)
		}
	}
}

func (k *linkKeeper) fail(msg string, args ...any) {
	k.log.Error(msg, args...)
	if k.failed != nil {
		k.failed()
	}
}

// keepLinks starts the link keeper on a real server when Options.BPFLinks:
// a first look, then link events and every repair tick. Without events
// (the subscription failed) the ticks alone still attach, later.
func (a *runner) keepLinks(ctx context.Context) {
	if _, ok := a.file.RealServerUnits(); !ok || !a.o.BPFLinks {
		return
	}
	h := hostLinks{host: a.o.Host}
	a.links = &linkKeeper{h: h, log: a.log, failed: a.reg.Agent.Error}
	ev, err := h.watch(ctx)
	if err != nil {
		a.log.Warn("bpf: no link events; new links get the program at the next repair", "err", err)
	}
	a.linkEvents = ev
	a.links.reconcile(ctx, "start")
}
