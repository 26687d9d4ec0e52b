package director

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Open connects a Director to IPVS, nftables and rtnetlink of the calling
// thread's network namespace. The "IPVS" generic netlink family exists only
// while ip_vs is loaded and the kernel does not autoload it for generic
// netlink, so Open loads it with modprobe, as ipvsadm does. Close releases
// the connections.
func Open() (*Director, func() error, error) {
	ic, err := ipvs.New()
	if errors.Is(err, ipvs.ErrNotAvailable) {
		if out, merr := exec.Command("modprobe", "ip_vs").CombinedOutput(); merr != nil {
			return nil, nil, fmt.Errorf("%w (modprobe ip_vs: %v: %s)", err, merr, strings.TrimSpace(string(out)))
		}
		ic, err = ipvs.New()
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := dscpmark.New()
	if err != nil {
		ic.Close()
		return nil, nil, err
	}
	drained, err := drainedPath()
	if err != nil {
		ic.Close()
		return nil, nil, err
	}
	h, err := newHost()
	if err != nil {
		ic.Close()
		return nil, nil, err
	}
	closeAll := func() error { return errors.Join(ic.Close(), h.close()) }
	return &Director{ipvs: ic, marks: m, host: h, drained: drained}, closeAll, nil
}
