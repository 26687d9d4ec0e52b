package doctor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// TODO(lead): these stand in for internal/bpfdsr until it lands:
// bpfPinRoot = bpfdsr.PinRoot (drop the statfs below), bpfInstalled =
// bpfdsr.Installed, and bpfAttached = bpfdsr.Open, then the Ifname of each
// of (*Table).Attachments, then Close. live.entries lists the BPF table
// once maptable.Dial picks it where bpfdsr.Installed (helper I's part).
var (
	bpfPinRoot = func() (string, error) {
		var st unix.Statfs_t
		if err := unix.Statfs("/sys/fs/bpf", &st); err != nil || st.Type != unix.BPF_FS_MAGIC {
			return "", fmt.Errorf("no bpffs is mounted on /sys/fs/bpf")
		}
		return "/sys/fs/bpf", nil
	}
	bpfInstalled = func() (bool, error) { return false, nil }
	bpfAttached  = func() ([]string, error) { return nil, nil }
)

// readBPF is Host.bpf on this host.
func readBPF() (bpfState, error) {
	var s bpfState
	if _, err := bpfPinRoot(); err != nil {
		s.noFS = err
		return s, nil
	}
	ok, err := bpfInstalled()
	if err != nil || !ok {
		return s, err
	}
	s.installed = true
	s.attached, err = bpfAttached()
	return s, err
}
