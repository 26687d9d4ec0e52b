package realserver

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/l3dsr/l3dsr/internal/bpfdsr"
)

// This file is the one place realserver calls internal/bpfdsr and modprobe.

// hostBPF is the tc-BPF backend of this network namespace (internal/bpfdsr).
type hostBPF struct{}

func (hostBPF) installed() (bool, error) { return bpfdsr.Installed() }
func (hostBPF) install() error {
	t, err := bpfdsr.Install()
	if err == nil {
		t.Close()
	}
	return err
}
func (hostBPF) uninstall() error { return bpfdsr.Uninstall() }

func (hostBPF) attach(ifname string) (changed bool, err error) {
	err = bpfdsr.With(func(t *bpfdsr.Table) (e error) { changed, e = t.Attach(ifname); return e })
	return changed, err
}

func (hostBPF) detach(ifname string) error {
	return bpfdsr.With(func(t *bpfdsr.Table) error { return t.Detach(ifname) })
}

func (hostBPF) attachments() (as []Attachment, err error) {
	err = bpfdsr.With(func(t *bpfdsr.Table) error {
		got, e := t.Attachments()
		for _, a := range got {
			as = append(as, Attachment(a))
		}
		return e
	})
	return as, err
}

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
