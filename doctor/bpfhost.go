package doctor

import "github.com/l3dsr/l3dsr/internal/bpfdsr"

// The BPF backend of this namespace (internal/bpfdsr); variables so that
// the tests' fakes can stand in.
var (
	bpfPinRoot   = bpfdsr.PinRoot
	bpfInstalled = bpfdsr.Installed
	bpfAttached  = func() (names []string, err error) {
		err = bpfdsr.With(func(t *bpfdsr.Table) error {
			as, e := t.Attachments()
			for _, a := range as {
				names = append(names, a.Ifname)
			}
			return e
		})
		return names, err
	}
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
