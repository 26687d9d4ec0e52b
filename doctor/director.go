package doctor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/director"
)

// ipvsSetting is an IPVS sysctl a DSR director needs.
type ipvsSetting struct{ key, want, why string }

var ipvsSettings = []ipvsSetting{
	{"net.ipv4.vs.conntrack", "0",
		"the director sees only the client's half of each connection (the replies go straight from the real server): with conntrack=1, netfilter calls the client's later packets INVALID and drops them"},
	{"net.ipv4.vs.expire_nodest_conn", "1",
		"without it, the connections of a real server that was removed keep being sent there until they time out, and the clients' retries with them"},
	{"net.ipv4.vs.expire_quiescent_template", "1",
		"without it, persistent clients stick to a real server whose weight is 0 (quiesced by a failed check or a drain) until their template expires"},
}

// director checks the director side: st is director.Show's, svcs what
// should run.
func (c *checker) director(st director.Status, loaded bool, svcs []service) error {
	if !loaded {
		fix := c.e.apply()
		if fix == "" {
			fix = "modprobe ip_vs"
		}
		c.add(problem, "ipvs", "IPVS is not loaded (no /proc/net/ip_vs)",
			"no virtual service runs: the VIP's packets are not balanced to the real servers", fix)
		return nil
	}
	for _, s := range svcs {
		if !slices.ContainsFunc(st.Services, func(r director.Service) bool { return r.Key == s.key }) {
			c.add(problem, "service", fmt.Sprintf("service %s is in %s but not in IPVS", s.key, c.e.file),
				"the VIP's packets reach no real server: clients time out", c.e.apply())
		}
	}
	for _, s := range ipvsSettings {
		v, err := c.h.Sysctl(s.key)
		if err != nil {
			return err
		}
		if v != s.want {
			c.add(problem, "ipvs-sysctl", fmt.Sprintf("%s is %s, want %s", s.key, v, s.want), s.why,
				fmt.Sprintf("sysctl -w %s=%s", s.key, s.want))
		}
	}
	c.mh(st)
	for _, p := range st.Problems {
		// The IPVS sysctls are checked above, each with its command.
		if strings.HasPrefix(p, "sysctl net.ipv4.vs.") {
			continue
		}
		fix := c.e.apply()
		if fix == "" {
			fix = "what the finding says (from 'l3dsr director show')"
		}
		c.add(problem, "director", p, "the service does not send its packets along the DSR path it was set up for", fix)
	}
	return c.checkPath(svcs)
}

// checkPath: a DSR-path health check is answered from the VIP, which the
// director owns, so the director's kernel drops the answer as a martian
// unless the interface the route to the real leaves by accepts local
// sources and does not filter the reverse path strictly. IPv6 has neither
// setting.
func (c *checker) checkPath(svcs []service) error {
	var ifaces []string
	for _, s := range svcs {
		if !s.dsrCheck {
			continue
		}
		for _, r := range s.reals {
			if !r.Is4() {
				continue
			}
			i, err := c.h.RouteOif(r)
			if err != nil {
				return fmt.Errorf("finding the interface toward real server %s of %s: %w", r, s.key, err)
			}
			if !slices.Contains(ifaces, i) {
				ifaces = append(ifaces, i)
			}
		}
	}
	if len(ifaces) == 0 {
		return nil
	}
	all, err := c.confInt("all", "accept_local")
	if err != nil {
		return err
	}
	for _, i := range ifaces {
		own, err := c.confInt(i, "accept_local")
		if err != nil {
			return err
		}
		// The kernel ORs all's and the interface's accept_local.
		if all == 0 && own == 0 {
			c.add(problem, "accept_local", fmt.Sprintf("accept_local is 0 on %s (and on all), the interface toward real servers with DSR-path health checks", i),
				"the checks' answers come from the VIP, a local address of the director: without accept_local the kernel drops them as martians, and every real server looks down",
				setCmd(i, "accept_local", 1))
		}
	}
	return c.checkConf(confRule{key: "rp_filter", want: 2, ok: []int{0, 2}, what: "reverse-path filtering", check: "rp_filter",
		why: "the DSR-path health checks' answers come from the VIP, whose route is local: strict reverse-path filtering drops them, and every real server looks down"}, ifaces)
}
