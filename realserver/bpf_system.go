package realserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// This file is the one place realserver calls internal/bpfdsr and modprobe.
//
// TODO(lead): internal/bpfdsr's API (helper R) had not landed when this was
// written; hostBPF's methods are stand-ins that keep the build green. When
// it lands, make them:
//
//	func (hostBPF) installed() (bool, error) { return bpfdsr.Installed() }
//	func (hostBPF) install() error           { return withTable(bpfdsr.Install, nil) }
//	func (hostBPF) uninstall() error         { return bpfdsr.Uninstall() }
//	func (hostBPF) attach(ifname string) (changed bool, err error) {
//		err = withTable(bpfdsr.Open, func(t *bpfdsr.Table) (e error) { changed, e = t.Attach(ifname); return e })
//		return changed, err
//	}
//	func (hostBPF) detach(ifname string) error {
//		return withTable(bpfdsr.Open, func(t *bpfdsr.Table) error { return t.Detach(ifname) })
//	}
//	func (hostBPF) attachments() (as []Attachment, err error) {
//		err = withTable(bpfdsr.Open, func(t *bpfdsr.Table) error {
//			got, e := t.Attachments()
//			for _, a := range got {
//				as = append(as, Attachment(a))
//			}
//			return e
//		})
//		return as, err
//	}
//	func withTable(open func() (*bpfdsr.Table, error), fn func(*bpfdsr.Table) error) error {
//		t, err := open()
//		if err != nil {
//			return err
//		}
//		defer t.Close()
//		if fn == nil {
//			return nil
//		}
//		return fn(t)
//	}

// hostBPF is the tc-BPF backend of this network namespace (internal/bpfdsr).
type hostBPF struct{}

var errNoBPF = errors.New("the tc-BPF backend is not built into this l3dsr yet")

func (hostBPF) installed() (bool, error)           { return false, nil }
func (hostBPF) install() error                     { return errNoBPF }
func (hostBPF) uninstall() error                   { return nil }
func (hostBPF) attach(string) (bool, error)        { return false, errNoBPF }
func (hostBPF) detach(string) error                { return nil }
func (hostBPF) attachments() ([]Attachment, error) { return nil, nil }

// loadModule loads xt_DADDR with modprobe, as auto does to decide; the
// error carries modprobe's own words (under lockdown: "Key was rejected by
// service").
func loadModule(ctx context.Context) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "modprobe", "xt_DADDR")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("modprobe xt_DADDR: %s", strings.ReplaceAll(msg, "\n", "; "))
		}
		return fmt.Errorf("modprobe xt_DADDR: %w", err)
	}
	return nil
}
