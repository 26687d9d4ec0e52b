package doctor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/internal/sysctl"
)

// confRule is a per-interface IPv4 setting whose effective value is the
// larger of conf/all and conf/IFACE, as the kernel takes arp_ignore,
// arp_announce and rp_filter.
type confRule struct {
	key  string
	want int
	ok   []int
	// preferAll: when setting conf/all alone fixes an interface, the fix
	// sets conf/all (one command for every interface, and for interfaces
	// made later), as 'realserver up' does. Otherwise the interface's own
	// value is set, leaving the others as they are.
	preferAll bool
	what      string // "reverse-path filtering", for the finding's text
	why       string
	check     string
}

// confInt reads net.ipv4.conf.IFACE.KEY.
func (c *checker) confInt(iface, key string) (int, error) {
	name := sysctl.IPv4Conf(iface, key)
	s, err := c.h.Sysctl(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("sysctl %s is %q, not a number", name, s)
	}
	return v, nil
}

func setCmd(iface, key string, v int) string {
	return fmt.Sprintf("sysctl -w %s=%d", sysctl.IPv4Conf(iface, key), v)
}

// checkConf checks r's effective value on each of ifaces: one finding for
// every interface that setting conf/all fixes, one for each other.
func (c *checker) checkConf(r confRule, ifaces []string) error {
	all, err := c.confInt("all", r.key)
	if err != nil {
		return err
	}
	var viaAll []string
	for _, i := range ifaces {
		own, err := c.confInt(i, r.key)
		if err != nil {
			return err
		}
		eff := max(all, own)
		if slices.Contains(r.ok, eff) {
			continue
		}
		setAll, setOwn := r.fix(all, own)
		if setAll && !setOwn {
			viaAll = append(viaAll, fmt.Sprintf("%s (%s)", i, effText(r.key, eff)))
			continue
		}
		var cmds []string
		if setAll {
			cmds = append(cmds, setCmd("all", r.key, r.want))
		}
		if setOwn {
			cmds = append(cmds, setCmd(i, r.key, r.want))
		}
		c.add(problem, r.check, fmt.Sprintf("%s on %s is %d (the larger of all %d and %s %d), want %s",
			r.key, i, eff, all, i, own, okText(r.ok)), r.why, strings.Join(cmds, " && "))
	}
	if len(viaAll) > 0 {
		c.add(problem, r.check, fmt.Sprintf("effective %s: %s (the larger of all, which is %d, and each interface's own value), want %s",
			r.what, strings.Join(viaAll, ", "), all, okText(r.ok)), r.why, setCmd("all", r.key, r.want))
	}
	return nil
}

// fix says which of conf/all and the interface's own value to set to
// r.want: all alone when that does it and r.preferAll, else the
// interface's own alone when that does it, else both.
func (r confRule) fix(all, own int) (setAll, setOwn bool) {
	if r.preferAll && slices.Contains(r.ok, max(r.want, own)) {
		return true, false
	}
	if slices.Contains(r.ok, max(all, r.want)) {
		return false, true
	}
	return true, true
}

func okText(ok []int) string {
	s := make([]string, len(ok))
	for i, v := range ok {
		s[i] = strconv.Itoa(v)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// effText names an effective value where it has a name.
func effText(key string, v int) string {
	if key == "rp_filter" {
		switch v {
		case 0:
			return "off (0)"
		case 1:
			return "strict (1)"
		case 2:
			return "loose (2)"
		}
	}
	return strconv.Itoa(v)
}
