package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// reflectTOS is the sysctl (Linux 5.10+) with which TCP copies the SYN's
// TOS, less its ECN bits, into the SYN-ACK and every later segment. The
// kernel reads this one IPv4 key for IPv6 connections too: there is no
// IPv6 counterpart.
const reflectTOS = "net.ipv4.tcp_reflect_tos"

// reflect: with tcp_reflect_tos on, a coded entry that keeps the packet's
// DSCP hands the code to the socket, and the server sends it back out on
// every reply, past the director, to the Internet. An entry whose unit
// asks for a reset is the mapping check's (apply puts it back).
func (c *checker) reflect(coded []maptable.Entry, units []realserver.Config) error {
	v, err := c.h.Sysctl(reflectTOS)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // before 5.10: nothing is reflected
	} else if err != nil {
		return err
	}
	if strings.TrimSpace(v) == "0" {
		return nil
	}
	byVIP := map[netip.Addr][]maptable.Entry{}
	var order []netip.Addr
	for _, e := range coded {
		if e.SetDSCP != nil || wantsReset(units, e) {
			continue
		}
		if byVIP[e.VIP] == nil {
			order = append(order, e.VIP)
		}
		byVIP[e.VIP] = append(byVIP[e.VIP], e)
	}
	for _, vip := range order {
		es := byVIP[vip]
		var codes []string
		for _, e := range es {
			codes = append(codes, fmt.Sprint(e.DSCP))
		}
		n := strings.Join(codes, ", ")
		c.add(warning, "tcp_reflect_tos",
			fmt.Sprintf("%s is %s and VIP %s's DSCP %s has no reset after the rewrite", reflectTOS, strings.TrimSpace(v), vip, n),
			fmt.Sprintf("replies reflect the SYN's DSCP: the DSR code %s leaks into every reply to the Internet (where it means a class, or tells the world which VIP this is); set a reset (realserver up ... --set-dscp 0, or set_dscp: 0 in the config)", n),
			c.resetFix(units, es))
	}
	return nil
}

// wantsReset: a unit of e's key asks for a DSCP after the rewrite.
func wantsReset(units []realserver.Config, e maptable.Entry) bool {
	for _, w := range wantedEntries(units) {
		if keyOf(w) == keyOf(e) && w.VIP == e.VIP && w.SetDSCP != nil {
			return true
		}
	}
	return false
}

// resetFix is the command that gives es (one VIP's entries) a reset: the
// file's key, 'realserver up' for a VIP it set up, else the table's own.
func (c *checker) resetFix(units []realserver.Config, es []maptable.Entry) string {
	vip := es[0].VIP
	i := slices.IndexFunc(units, func(u realserver.Config) bool { return u.VIP == vip })
	switch {
	case i >= 0 && c.e.file != "":
		return fmt.Sprintf("add set_dscp: 0 to VIP %s in %s, then %s", vip, c.e.file, c.e.apply())
	case i >= 0:
		// up of a VIP that is up with another --set-dscp changes its
		// entries in place (realserver.upReset).
		u := units[i]
		var cmds []string
		for _, e := range es {
			s := fmt.Sprintf("l3dsr realserver up --vip %s --dscp %d --set-dscp 0", vip, e.DSCP)
			if u.Local.IsValid() {
				s += " --local " + u.Local.String()
			}
			cmds = append(cmds, s)
		}
		return strings.Join(cmds, " && ")
	}
	var cmds []string
	for _, e := range es {
		r := e
		zero := dsrtypes.DSCP(0)
		r.SetDSCP = &zero
		cmds = append(cmds, "l3dsr rule add --replace "+ruleArgs(r))
	}
	return strings.Join(cmds, " && ")
}
