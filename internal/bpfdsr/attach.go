package bpfdsr

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Attachment is the program on one interface's tc ingress.
type Attachment struct {
	Ifname  string
	Ifindex int
	Mode    string // "tcx" or "clsact"
}

const (
	modeTCX    = "tcx"
	modeClsact = "clsact"
)

// forceClsact makes Attach use clsact on a kernel with tcx, so that tests
// on one kernel cover both paths.
var forceClsact = false

// Attach puts the program on ifname's tc ingress, after what is there:
// tcx where the kernel has it (6.6), else a cls_bpf filter under clsact.
// changed is false when it was there already.
func (t *Table) Attach(ifname string) (changed bool, err error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return false, fmt.Errorf("attaching to %s: %w", ifname, err)
	}
	mode, err := t.attachedMode(ifc.Index)
	if err != nil || mode != "" {
		return false, err
	}
	if !forceClsact {
		err := t.attachTCX(ifc.Index)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return false, fmt.Errorf("attaching to %s (tcx): %w", ifname, permErr(err))
		}
	}
	if err := t.attachClsact(ifc.Index); err != nil {
		return false, fmt.Errorf("attaching to %s (clsact): %w", ifname, err)
	}
	return true, nil
}

// Detach takes our program off ifname; not attached is not an error.
// Nothing another program or filter put there is touched.
func (t *Table) Detach(ifname string) error {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("detaching from %s: %w", ifname, err)
	}
	if err := t.detachIndex(ifc.Index); err != nil {
		return fmt.Errorf("detaching from %s: %w", ifname, err)
	}
	return nil
}

func (t *Table) detachIndex(ifindex int) error {
	if err := t.detachTCX(ifindex); err != nil {
		return err
	}
	return t.detachClsact(ifindex)
}

// detachAll is Uninstall's: every attachment, and the link pins of
// interfaces that are gone.
func (t *Table) detachAll() error {
	atts, err := t.Attachments()
	if err != nil {
		return err
	}
	for _, a := range atts {
		if err := t.detachIndex(a.Ifindex); err != nil {
			return fmt.Errorf("detaching from %s: %w", a.Ifname, err)
		}
	}
	idx, err := t.linkPins()
	if err != nil {
		return err
	}
	for _, i := range idx {
		if err := t.detachTCX(i); err != nil {
			return err
		}
	}
	return t.dropOwnedGone()
}

// Attachments lists the interfaces our program is on.
func (t *Table) Attachments() ([]Attachment, error) {
	var out []Attachment
	idx, err := t.linkPins()
	if err != nil {
		return nil, err
	}
	for _, i := range idx {
		if ifc, err := net.InterfaceByIndex(i); err == nil {
			out = append(out, Attachment{Ifname: ifc.Name, Ifindex: i, Mode: modeTCX})
		}
	}
	cls, err := t.clsactAttachments()
	if err != nil {
		return nil, err
	}
	return append(out, cls...), nil
}

// attachedMode is how our program is on ifindex, "" when it is not.
func (t *Table) attachedMode(ifindex int) (string, error) {
	live, err := t.liveLink(ifindex)
	if err != nil || live {
		return modeTCX, err
	}
	f, err := t.ourFilter(ifindex)
	if err != nil {
		return "", err
	}
	if f != nil {
		return modeClsact, nil
	}
	return "", nil
}

// liveLink says whether our link pin of ifindex holds that interface: the
// pin of an interface that is gone (its link defunct, ifindex 0) is
// dropped, since a new interface may take its ifindex.
func (t *Table) liveLink(ifindex int) (bool, error) {
	l, err := link.LoadPinnedLink(t.linkPin(ifindex), nil)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening the pinned tcx link: %w", err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return false, fmt.Errorf("reading the tcx link's info: %w", err)
	}
	if tcx := info.TCX(); tcx != nil && int(tcx.Ifindex) == ifindex {
		return true, nil
	}
	if err := l.Unpin(); err != nil {
		return false, fmt.Errorf("unpinning a stale tcx link: %w", err)
	}
	return false, nil
}

func (t *Table) linkPin(ifindex int) string {
	return filepath.Join(t.dir, linkPrefix+strconv.Itoa(ifindex))
}

// linkPins is the ifindexes of our tcx link pins.
func (t *Table) linkPins() ([]int, error) {
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, fmt.Errorf("reading the pin directory: %w", err)
	}
	var out []int
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), linkPrefix); ok {
			if i, err := strconv.Atoi(s); err == nil {
				out = append(out, i)
			}
		}
	}
	return out, nil
}

// attachTCX appends our program to ifindex's tcx ingress: programs there
// before run first, and ours returns TCX_NEXT to those after.
func (t *Table) attachTCX(ifindex int) error {
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: t.prog, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.Pin(t.linkPin(ifindex)); err != nil {
		return fmt.Errorf("pinning the tcx link: %w", err)
	}
	return nil
}

// detachTCX removes our link of ifindex; the kernel takes the program off
// when the pin and the last descriptor are gone.
func (t *Table) detachTCX(ifindex int) error {
	p := t.linkPin(ifindex)
	l, err := link.LoadPinnedLink(p, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening the pinned tcx link: %w", err)
	}
	defer l.Close()
	if err := l.Detach(); err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("detaching the tcx link: %w", err)
	}
	if err := l.Unpin(); err != nil {
		return fmt.Errorf("unpinning the tcx link: %w", err)
	}
	return nil
}
