package bpfdsr

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Our cls_bpf filter on clsact ingress (kernels without tcx): a fixed pref
// so that Detach finds it, below tc's automatic prefs (49152 and down from
// the lowest in use) so that a filter added later without a pref does not
// take it. Filters at a lower pref run before ours; ours continues to the
// next with TC_ACT_UNSPEC.
const (
	clsactPref   = 3477
	clsactHandle = 1
	filterName   = progName
)

// linkHandle is an rtnetlink handle in this namespace and the interface
// ifindex; the caller closes the handle.
func linkHandle(ifindex int) (*netlink.Handle, netlink.Link, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, nil, fmt.Errorf("opening rtnetlink: %w", err)
	}
	lk, err := h.LinkByIndex(ifindex)
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("reading interface %d: %w", ifindex, err)
	}
	return h, lk, nil
}

// ingressQdisc is the qdisc at ffff:, if any.
func ingressQdisc(h *netlink.Handle, lk netlink.Link) (netlink.Qdisc, error) {
	qs, err := h.QdiscList(lk)
	if err != nil {
		return nil, fmt.Errorf("listing qdiscs: %w", err)
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_INGRESS {
			return q, nil
		}
	}
	return nil, nil
}

func (t *Table) attachClsact(ifindex int) error {
	h, lk, err := linkHandle(ifindex)
	if err != nil {
		return err
	}
	defer h.Close()
	q, err := ingressQdisc(h, lk)
	if err != nil {
		return err
	}
	created := false
	switch {
	case q == nil:
		q = &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
		if err := h.QdiscAdd(q); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
				return fmt.Errorf("adding a clsact qdisc: this kernel has no clsact (CONFIG_NET_SCH_INGRESS): %w", err)
			}
			return fmt.Errorf("adding a clsact qdisc: %w", err)
		}
		created = true
		if err := t.owned.Put(uint32(ifindex), uint32(ownedCreatedClsact)); err != nil {
			h.QdiscDel(q)
			return fmt.Errorf("recording the clsact qdisc as ours: %w", err)
		}
	case q.Type() != "clsact":
		return fmt.Errorf("%s has an %q qdisc at ingress, not clsact: l3dsr will not replace it (tc qdisc del dev %s ingress, if nothing needs it)",
			lk.Attrs().Name, q.Type(), lk.Attrs().Name)
	}
	err = t.addFilter(h, lk)
	if err != nil && created {
		t.dropQdisc(h, lk, ifindex)
	}
	return err
}

// addFilter adds ours at clsactPref, and never to a pref in use: a filter
// there is not ours to share or replace.
func (t *Table) addFilter(h *netlink.Handle, lk netlink.Link) error {
	fs, err := h.FilterList(lk, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return fmt.Errorf("listing ingress filters: %w", err)
	}
	for _, f := range fs {
		if f.Attrs().Priority == clsactPref {
			return fmt.Errorf("ingress pref %d of %s is taken by a filter l3dsr did not add (tc filter show dev %s ingress): move it to another pref",
				clsactPref, lk.Attrs().Name, lk.Attrs().Name)
		}
	}
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: lk.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS,
			Handle: clsactHandle, Protocol: unix.ETH_P_ALL, Priority: clsactPref,
		},
		Fd: t.prog.FD(), Name: filterName, DirectAction: true,
	}
	if err := h.FilterAdd(f); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("adding the cls_bpf filter: this kernel has no cls_bpf (CONFIG_NET_CLS_BPF): %w", err)
		}
		return fmt.Errorf("adding the cls_bpf filter: %w", err)
	}
	return nil
}

// progID is our program's kernel id, which our filter carries.
func (t *Table) progID() (int, error) {
	info, err := t.prog.Info()
	if err != nil {
		return 0, fmt.Errorf("reading the program's info: %w", err)
	}
	id, _ := info.ID()
	return int(id), nil
}

// ourFilter is our filter on ifindex's ingress: our pref, our name and
// our program; nil when there is none.
func (t *Table) ourFilter(ifindex int) (*netlink.BpfFilter, error) {
	h, lk, err := linkHandle(ifindex)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return t.findFilter(h, lk)
}

func (t *Table) findFilter(h *netlink.Handle, lk netlink.Link) (*netlink.BpfFilter, error) {
	if q, err := ingressQdisc(h, lk); err != nil || q == nil || q.Type() != "clsact" {
		return nil, err
	}
	id, err := t.progID()
	if err != nil {
		return nil, err
	}
	fs, err := h.FilterList(lk, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return nil, fmt.Errorf("listing ingress filters of %s: %w", lk.Attrs().Name, err)
	}
	for _, f := range fs {
		b, ok := f.(*netlink.BpfFilter)
		if ok && b.Priority == clsactPref && b.Name == filterName && b.Id == id {
			return b, nil
		}
	}
	return nil, nil
}

// detachClsact deletes our filter, then the clsact if we created it and
// no filter is left on it.
func (t *Table) detachClsact(ifindex int) error {
	h, lk, err := linkHandle(ifindex)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return t.forgetOwned(ifindex)
	}
	if err != nil {
		return err
	}
	defer h.Close()
	f, err := t.findFilter(h, lk)
	if err != nil {
		return err
	}
	if f != nil {
		if err := h.FilterDel(f); err != nil {
			return fmt.Errorf("deleting our cls_bpf filter: %w", err)
		}
	}
	return t.dropQdisc(h, lk, ifindex)
}

// dropQdisc deletes the clsact of lk when owned says we created it and it
// has no filters (ingress or egress) left.
func (t *Table) dropQdisc(h *netlink.Handle, lk netlink.Link, ifindex int) error {
	var flags uint32
	err := t.owned.Lookup(uint32(ifindex), &flags)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the owned map: %w", err)
	}
	if flags&ownedCreatedClsact == 0 {
		return t.forgetOwned(ifindex)
	}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := h.FilterList(lk, parent)
		if err != nil {
			return fmt.Errorf("listing filters of %s: %w", lk.Attrs().Name, err)
		}
		if len(fs) > 0 {
			return nil
		}
	}
	q, err := ingressQdisc(h, lk)
	if err != nil {
		return err
	}
	if q != nil && q.Type() == "clsact" {
		if err := h.QdiscDel(q); err != nil {
			return fmt.Errorf("deleting the clsact qdisc l3dsr added to %s: %w", lk.Attrs().Name, err)
		}
	}
	return t.forgetOwned(ifindex)
}

func (t *Table) forgetOwned(ifindex int) error {
	if err := t.owned.Delete(uint32(ifindex)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("updating the owned map: %w", err)
	}
	return nil
}

// dropOwnedGone forgets the interfaces that are gone, whose ifindex a new
// interface may take.
func (t *Table) dropOwnedGone() error {
	var idx, flags uint32
	var gone []uint32
	it := t.owned.Iterate()
	for it.Next(&idx, &flags) {
		gone = append(gone, idx)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("reading the owned map: %w", err)
	}
	for _, i := range gone {
		if err := t.detachClsact(int(i)); err != nil {
			return err
		}
	}
	return nil
}

// clsactAttachments is the interfaces with our filter.
func (t *Table) clsactAttachments() ([]Attachment, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink: %w", err)
	}
	defer h.Close()
	lks, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var out []Attachment
	for _, lk := range lks {
		f, err := t.findFilter(h, lk)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, Attachment{Ifname: lk.Attrs().Name, Ifindex: lk.Attrs().Index, Mode: modeClsact})
		}
	}
	return out, nil
}
