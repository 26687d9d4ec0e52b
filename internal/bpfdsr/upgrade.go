package bpfdsr

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// upgrade puts this binary's program in place of a pinned one that is
// not it (an upgrade of l3dsr), on every attachment, keeping the maps and
// so the table and its counters. The embedded program is loaded against
// the pinned maps to learn its tag: the kernel's, which ProgramSpec.Tag
// does not always match. Maps whose layout changed refuse it.
func (t *Table) upgrade() error {
	spec, err := loadSpec()
	if err != nil {
		return fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		pinTables: t.tables, pinPresent: t.present, pinTotals: t.totals, pinMeta: t.meta,
	}})
	if err != nil {
		return fmt.Errorf("loading the BPF program against the pinned maps (if their layout changed, run `l3dsr realserver down` then `l3dsr realserver up`): %w", permErr(err))
	}
	defer coll.Close()
	next := coll.Programs[progName]
	want, err := next.Info()
	if err != nil {
		return fmt.Errorf("reading the program's info: %w", err)
	}
	have, err := t.prog.Info()
	if err != nil {
		return fmt.Errorf("reading the pinned program's info: %w", err)
	}
	if have.Tag == want.Tag {
		return nil
	}
	atts, err := t.Attachments()
	if err != nil {
		return err
	}
	for _, a := range atts {
		if err := t.swapOn(a, next); err != nil {
			return fmt.Errorf("upgrading the BPF program (tag %s to %s) on %s: %w", have.Tag, want.Tag, a.Ifname, err)
		}
	}
	pin := filepath.Join(t.dir, pinProg)
	if err := os.Remove(pin); err != nil {
		return fmt.Errorf("unpinning the old program: %w", err)
	}
	if err := next.Pin(pin); err != nil {
		return fmt.Errorf("pinning the new program: %w", err)
	}
	clone, err := next.Clone()
	if err != nil {
		return err
	}
	t.prog.Close()
	t.prog = clone
	return nil
}

// swapOn replaces our program on one attachment in place: the tcx link's
// program, or our filter (same pref and handle), so that no packet finds
// the interface without one.
func (t *Table) swapOn(a Attachment, next *ebpf.Program) error {
	if a.Mode == modeTCX {
		l, err := link.LoadPinnedLink(t.linkPin(a.Ifindex), nil)
		if err != nil {
			return fmt.Errorf("opening the pinned tcx link: %w", err)
		}
		defer l.Close()
		return l.Update(next)
	}
	h, lk, err := linkHandle(a.Ifindex)
	if err != nil {
		return err
	}
	defer h.Close()
	f, err := t.findFilter(h, lk)
	if err != nil || f == nil {
		return err
	}
	nf := &netlink.BpfFilter{FilterAttrs: f.FilterAttrs, Fd: next.FD(), Name: filterName, DirectAction: true}
	if err := h.FilterReplace(nf); err != nil {
		return fmt.Errorf("replacing our cls_bpf filter: %w", err)
	}
	return nil
}
