package config

import (
	"errors"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

const good = `# a real server and a director in one file
realserver:
  iptables: nft
  vips:
    - vip: 10.0.0.1
      dscp: 21
    - vip: 2001:db8::1
      dscp: 22
      local: 2001:db8:e::30
    - vip: 10.0.0.2
      mode: ipip
      mss: 1400
director:
  services:
    - vip: 10.0.0.1:80
      proto: tcp
      mode: dscp
      dscp: 21
      scheduler: rr
      persistent: 300
      reals:
        - {address: 10.1.0.10, weight: 100}
        - address: 10.1.0.11
    - vip: "[2001:db8::1]:53"
      proto: udp
      mode: ipip
      reals:
        - {address: "2001:db8:1::10", weight: 0, upper_threshold: 10, lower_threshold: 5}
`

func TestParseGood(t *testing.T) {
	f, err := parseFile("l3dsr.conf", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	rs := f.realServer
	if rs == nil || rs.iptables != xtrule.Variant("nft") || len(rs.VIPs) != 3 {
		t.Fatalf("realserver = %+v", rs)
	}
	v := rs.VIPs[1]
	if v.Config.VIP != netip.MustParseAddr("2001:db8::1") || *v.Config.DSCP != 22 ||
		v.Config.Local != netip.MustParseAddr("2001:db8:e::30") || v.Config.Mode != dsrtypes.ModeDSCP || v.pos.Line != 7 {
		t.Errorf("vip[1] = %+v at %v", v.Config, v.pos)
	}
	if c := rs.VIPs[2].Config; c.Mode != dsrtypes.ModeIPIP || c.DSCP != nil || c.MSS != 1400 {
		t.Errorf("vip[2] = %+v", c)
	}
	d := f.director
	if d == nil || len(d.Services) != 2 {
		t.Fatalf("director = %+v", d)
	}
	s := d.Services[0].Service
	want := director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	if s.Key != want || s.Mode != dsrtypes.ModeDSCP || s.DSCP != 21 || s.Scheduler != "rr" || s.Persistent != 300 {
		t.Errorf("service[0] = %+v", s)
	}
	if len(s.Reals) != 2 || s.Reals[0].Weight != 100 || s.Reals[1].Weight != director.DefaultWeight || d.Services[0].realPos[1].Line != 23 {
		t.Errorf("reals[0] = %+v at %v", s.Reals, d.Services[0].realPos)
	}
	s = d.Services[1].Service
	if s.Proto != ipvs.ProtoUDP || s.Mode != dsrtypes.ModeIPIP || s.Scheduler != director.DefaultScheduler || s.Port != 53 ||
		s.Reals[0].Weight != 0 || s.Reals[0].UpperThreshold != 10 || s.Reals[0].LowerThreshold != 5 {
		t.Errorf("service[1] = %+v", s)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing yet\n", "---\n"} {
		f, err := parseFile("x", []byte(in))
		if err != nil || f.realServer != nil || f.director != nil {
			t.Errorf("Parse(%q) = %+v, %v; want an empty file", in, f, err)
		}
	}
	f, err := parseFile("x", []byte("director:\n"))
	if err != nil || f.director == nil || len(f.director.Services) != 0 {
		t.Errorf("an empty director section must mean: no services; got %+v, %v", f, err)
	}
}

// Each bad file must be refused with this line and these words.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"unknown top key", "realservers:\n  vips: []\n", 1, `unknown key "realservers" in the top level`},
		{"unknown vip key", "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n      dsp: 3\n", 5, `unknown key "dsp" in a realserver VIP`},
		{"unknown real key", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 3\n      reals:\n        - {addr: 10.1.0.1}\n", 6, `unknown key "addr" in a real server`},
		{"dscp 64", "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 64\n", 4, "dscp 64 is out of range: give a DSCP code 0-63"},
		{"dscp negative", "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: -1\n", 4, `dscp "-1" is not a whole number`},
		{"dscp octal-looking", "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 021\n", 4, `dscp "021" is not a whole number`},
		{"dscp missing", "realserver:\n  vips:\n    - vip: 10.0.0.1\n", 3, "needs its code: add 'dscp: N'"},
		{"bad address", "realserver:\n  vips:\n    - vip: 10.0.0.300\n      dscp: 2\n", 3, `vip "10.0.0.300" is not an IP address`},
		{"prefix", "realserver:\n  vips:\n    - vip: 10.0.0.1/32\n      dscp: 2\n", 3, `is a prefix: give the address alone, e.g. 10.0.0.1`},
		{"bad mode", "realserver:\n  vips:\n    - vip: 10.0.0.1\n      mode: tun\n", 4, `mode "tun": use dscp, addr or ipip`},
		{"dr with dscp", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: dr, dscp: 3}\n", 3, "DSCP 3 given for VIP 10.0.0.1 in dr mode: dr mode uses no DSCP code"},
		{"dr with local", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: dr, local: 192.0.2.1}\n", 3, "--local 192.0.2.1 given for VIP 10.0.0.1 in dr mode"},
		{"dr service with dscp", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: dr\n      dscp: 3\n", 5, "service tcp 10.0.0.1:80 is in dr mode, which uses no DSCP code: drop 'dscp', or use 'mode: dscp'"},
		{"ipip with dscp", "realserver:\n  vips:\n    - vip: 10.0.0.1\n      mode: ipip\n      dscp: 3\n", 3, "ipip mode uses no DSCP code"},
		{"bad iptables", "realserver:\n  iptables: xt\n", 2, `iptables "xt": use legacy, nft or default`},
		{"same VIP twice", "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 2}\n    - {vip: 10.0.0.1, dscp: 3}\n", 4, "VIP 10.0.0.1 is given twice (also at f:3)"},
		{"same DSCP twice", "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 2}\n    - {vip: 10.0.0.2, dscp: 2}\n", 4, "VIPs 10.0.0.2 and 10.0.0.1 (at f:3) both use DSCP 2"},
		{"same DSCP and local", "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 2, local: 192.0.2.1}\n    - {vip: 10.0.0.2, dscp: 2, local: 192.0.2.1}\n", 4, "both use DSCP 2 for local address 192.0.2.1"},
		{"key twice", "realserver:\n  iptables: nft\n  iptables: legacy\n", 3, `key "iptables" in realserver is given twice (also on line 2)`},
		{"vip without port", "director:\n  services:\n    - vip: 10.0.0.1\n      dscp: 3\n", 3, `vip "10.0.0.1" has no port: write VIP:PORT, e.g. 10.0.0.1:80`},
		{"bad proto", "director:\n  services:\n    - vip: 10.0.0.1:80\n      proto: icmp\n      dscp: 3\n", 4, `proto "icmp": use tcp, udp or sctp`},
		{"empty scheduler", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 3\n      scheduler: \"\"\n", 5, "scheduler is empty"},
		{"negative weight", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 3\n      reals:\n        - {address: 10.1.0.1, weight: -5}\n", 6, `weight "-5" is not a whole number: give a weight of 0 (drain) to 65535`},
		{"real of other family", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 3\n      reals:\n        - {address: \"2001:db8::5\"}\n", 6, "different address families"},
		{"service twice", "director:\n  services:\n    - {vip: 10.0.0.1:80, dscp: 3}\n    - {vip: 10.0.0.1:80, dscp: 4}\n", 4, "service tcp 10.0.0.1:80 is given twice (also at f:3)"},
		{"real twice", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 3\n      reals:\n        - {address: 10.1.0.1}\n        - {address: 10.1.0.1}\n", 7, "real server 10.1.0.1 of service tcp 10.0.0.1:80 is given twice (also at f:6)"},
		{"DSCP for two VIPs on one real", "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 3\n      reals: [{address: 10.1.0.1}]\n    - vip: 10.0.0.2:80\n      dscp: 3\n      reals:\n        - {address: 10.1.0.1}\n", 9, "DSCP 3 would stand for two VIPs on real server 10.1.0.1: 10.0.0.2 (service tcp 10.0.0.2:80) and 10.0.0.1 (service tcp 10.0.0.1:80 at f:5)"},
		{"ipip service with dscp", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: ipip\n      dscp: 3\n", 5, "ipip mode, which uses no DSCP code"},
		{"ops not a bool", "director:\n  services:\n    - {vip: 10.0.0.1:53, proto: udp, mode: nat, ops: yes}\n", 3, `ops "yes": use true or false`},
		{"ops on tcp", "director:\n  services:\n    - {vip: 10.0.0.1:80, mode: nat, ops: true}\n", 3, "service tcp 10.0.0.1:80: one-packet scheduling (ops) is for UDP services only"},
		{"sh flag on wlc", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: nat\n      scheduler_flags: [sh-port]\n", 5, `service tcp 10.0.0.1:80: scheduler flag "sh-port" is for scheduler sh, not wlc: use 'scheduler: sh'`},
		{"flags not a list", "director:\n  services:\n    - {vip: 10.0.0.1:80, mode: nat, scheduler: sh, scheduler_flags: sh-port}\n", 3, "scheduler_flags must be a list"},
		{"bad netmask", "director:\n  services:\n    - {vip: 10.0.0.1:80, mode: nat, persistent: 60, persistence_netmask: 255.255.255.300}\n", 3, `persistence netmask "255.255.255.300": an IPv4 VIP takes a dotted mask such as 255.255.255.0, or a prefix length of 1-32`},
		{"v6 dotted netmask", "director:\n  services:\n    - {vip: \"[2001:db8::1]:80\", mode: nat, persistence_netmask: 255.255.0.0}\n", 3, "an IPv6 VIP takes a prefix length of 1-128"},
		{"bad tunnel", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: ipip\n      reals:\n        - {address: 10.1.0.1, tunnel: vxlan}\n", 6, `tunnel "vxlan" is unknown: use ipip, gue or gre (ipvsadm --tun-type)`},
		{"gue without port", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: ipip\n      reals:\n        - {address: 10.1.0.1, tunnel: gue}\n", 6, "a gue tunnel needs tunnel_port"},
		{"tunnel on dr", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: dr\n      reals:\n        - {address: 10.1.0.1, tunnel: gre}\n", 6, "tunnel, tunnel_port and tunnel_checksum are for mode ipip, and the service is dr: drop them"},
		{"bad checksum", "director:\n  services:\n    - vip: 10.0.0.1:80\n      mode: ipip\n      reals:\n        - {address: 10.1.0.1, tunnel: gre, tunnel_checksum: yes}\n", 6, `tunnel_checksum "yes" is unknown: use nocsum, csum, remcsum`},
		{"syntax", "realserver:\n  vips: [\n", 2, "YAML syntax"},
		{"list instead of mapping", "realserver:\n  - vip: 10.0.0.1\n", 2, "realserver must be a mapping with the keys backend, ingress, iptables, map_path, vips"},
		{"two documents", "director:\n---\nrealserver:\n", 2, "a second YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFile("f", []byte(tc.in))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse = %+v, %v; want Errors", f, err)
			}
			if f != nil {
				t.Errorf("a file with errors gave a File: %+v", f)
			}
			e := es[0]
			if e.pos.Line != tc.line || !strings.Contains(e.Msg, tc.want) || !strings.HasPrefix(e.Error(), "f:") {
				t.Errorf("error = %q (line %d); want line %d and %q", e.Error(), e.pos.Line, tc.line, tc.want)
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	in := "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 99}\n    - {vip: nope, dscp: 1}\nbogus: 1\n"
	_, err := parseFile("f", []byte(in))
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, line := range []int{3, 4, 5} {
		if es[i].pos.Line != line {
			t.Errorf("error %d at line %d, want %d: %v", i, es[i].pos.Line, line, es[i])
		}
	}
}

// The example shipped as /etc/l3dsr/l3dsr.conf changes nothing as it is,
// and every commented-out key in it is valid once uncommented.
func TestShippedExample(t *testing.T) {
	data, err := os.ReadFile("../packaging/l3dsr.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFile("l3dsr.conf.example", data)
	if err != nil || f.realServer != nil || f.director != nil || f.dsrTools != "" {
		t.Fatalf("as shipped: %+v, %v; want nothing to manage", f, err)
	}
	on := regexp.MustCompile(`(?m)^#(\S|  )`).ReplaceAll(data, []byte("$1"))
	f, err = parseFile("uncommented", on)
	if err != nil {
		t.Fatalf("uncommented example: %v\n%s", err, on)
	}
	if len(f.realServer.VIPs) != 3 || len(f.director.Services) != 2 || f.dsrTools != "/etc/dsr.d" {
		t.Errorf("uncommented example: %d VIPs, %d services, dsrtools %q", len(f.realServer.VIPs), len(f.director.Services), f.dsrTools)
	}
}

// The v4 and the v6 address of a dual-stack VIP may share a code (issue
// 23): the table's key has the family. Two VIPs of one family may not.
func TestDualStackOneCode(t *testing.T) {
	f, err := parseFile("f", []byte("realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 19}\n    - {vip: 2001:db8::1, dscp: 19}\n    - {vip: 10.0.0.2, dscp: 20, local: 192.0.2.1}\n    - {vip: 2001:db8::2, dscp: 20, local: 2001:db8:1::1}\n"))
	if err != nil || len(f.realServer.VIPs) != 4 {
		t.Fatalf("parseFile = %+v, %v", f, err)
	}
	_, err = parseFile("f", []byte("realserver:\n  vips:\n    - {vip: 2001:db8::1, dscp: 19}\n    - {vip: 10.0.0.1, dscp: 19}\n    - {vip: 2001:db8::2, dscp: 19}\n"))
	if err == nil || err.Error() != "f:5: VIPs 2001:db8::2 and 2001:db8::1 (at f:3) both use DSCP 19: the real server could not tell them apart; give one of them another dscp (or another local)" {
		t.Errorf("two IPv6 VIPs with one code: %v", err)
	}
}
