package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad arguments exit 2 naming the value and what is wanted, before any
// netlink (the host running unit tests has no IPVS).
func TestBadArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-vip", "10.0.0.100", "-client", "10.8.0.2"}, `-vip "10.0.0.100": want ADDRESS:PORT`},
		{[]string{"-vip", "10.0.0.100:80", "-proto", "icmp", "-client", "10.8.0.2"}, `-proto "icmp": want tcp, udp or sctp`},
		{[]string{"-vip", "10.0.0.100:80", "-client", "10.8.0"}, `-client "10.8.0": want an IP address`},
		{[]string{"-vip", "10.0.0.100:80", "-client", "10.8.0.2", "-from", "65000", "-count", "537"}, "-from 65000 -count 537: want 1 or more ports"},
	} {
		var out, errb bytes.Buffer
		if rc := run(c.args, &out, &errb); rc != 2 || !strings.Contains(errb.String(), c.want) || out.Len() != 0 {
			t.Errorf("mhpick %q: exit %d, stderr %q, stdout %q; want exit 2 and %q", c.args, rc, errb.String(), out.String(), c.want)
		}
	}
}
