package config

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/testfiles"
)

func TestParseDSRTools(t *testing.T) {
	dir := testfiles.Write(t, map[string]string{
		"20-vip.conf": "# VIP=DSCP\n98.139.235.245=28    # the best\n\n  201F::0080:1d0:f8 = 29\n",
		"30-vip.conf": "10.0.0.9=041\n10.0.0.10=0x22\n",
		"README":      "not a conf file = 99\n",
	})
	vips, err := dsrTools{}.dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vips {
		got = append(got, v.Config.String()+"@"+filepath.Base(v.pos.File)+":"+itoa(v.pos.Line))
	}
	want := []string{
		"VIP 98.139.235.245 (dscp, DSCP 28)@20-vip.conf:2",
		"VIP 201f::80:1d0:f8 (dscp, DSCP 29)@20-vip.conf:4",
		"VIP 10.0.0.9 (dscp, DSCP 33)@30-vip.conf:1",
		"VIP 10.0.0.10 (dscp, DSCP 34)@30-vip.conf:2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Each kind of line, as the converter reads it (no resolver: as at boot).
func TestDSRToolsLines(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"", ""},
		{"   \t ", ""},
		{"# 10.0.0.1=3", ""},
		{"10.0.0.1=3", "VIP 10.0.0.1 (dscp, DSCP 3)"},
		{"\t10.0.0.1 \t=\t 3   # spaces everywhere but inside", "VIP 10.0.0.1 (dscp, DSCP 3)"},
		{"10.0.0.1=041", "VIP 10.0.0.1 (dscp, DSCP 33)"},
		{"10.0.0.1=0x21", "VIP 10.0.0.1 (dscp, DSCP 33)"},
		{"10.0.0.1=0X3f", "VIP 10.0.0.1 (dscp, DSCP 63)"},
		{"10.0.0.1=00", "VIP 10.0.0.1 (dscp, DSCP 0)"},
		{"10.0.0.1=077", "VIP 10.0.0.1 (dscp, DSCP 63)"},
		{"201F::0080:1d0:f8=29", "VIP 201f::80:1d0:f8 (dscp, DSCP 29)"},
		{"2001:DB8:0:0:0:0:0:1=1", "VIP 2001:db8::1 (dscp, DSCP 1)"},
		{"10.0.0.1=64", `error: DSCP "64" is out of range: use 0-63`},
		{"10.0.0.1=65", `error: DSCP "65" is out of range: use 0-63`},
		{"10.0.0.1=0x41", `error: DSCP "0x41" (65) is out of range: use 0-63`},
		{"10.0.0.1=0100", `error: DSCP "0100" (64) is out of range: use 0-63`},
		{"10.0.0.1=99999999999999999999999", `error: DSCP "99999999999999999999999" is out of range: use 0-63`},
		{"10.0.0.1=08", `error: DSCP "08" is not a number (a leading 0 makes it octal, as dsrctl reads it)`},
		{"10.0.0.1=x", `error: DSCP "x" is not a number: give a code 0-63 in decimal, octal (leading 0) or hex (0x)`},
		{"10.0.0.1=0x", `error: DSCP "0x" is not a number`},
		{"10.0.0.1=1_0", `error: DSCP "1_0" is not a number`},
		{"10.0.0.1=+5", `error: DSCP "+5" is not a number`},
		{"10.0.0.1=0b11", `error: DSCP "0b11" is not a number`},
		{"10.0.0.1", "VIP 10.0.0.1 (dr)"},
		{"  2001:DB8::1   # L2 DSR", "VIP 2001:db8::1 (dr)"},
		{"www.example.com", `error: VIP "www.example.com" is a host name, which l3dsr does not resolve at boot`},
		{"10.0.0.1=", `error: syntax error: "10.0.0.1=" is neither VIP, VIP=DSCP nor a comment`},
		{"=3", `error: syntax error: "=3" is neither VIP, VIP=DSCP nor a comment`},
		{"10.0.0.1=3=4", `error: syntax error: "10.0.0.1=3=4" is neither VIP, VIP=DSCP nor a comment`},
		{"10.0.0.1 3", `error: syntax error: "10.0.0.1 3" is neither VIP, VIP=DSCP nor a comment`},
		{"10.0.0.1=3 4", `error: syntax error: "10.0.0.1=3 4" is neither VIP, VIP=DSCP nor a comment`},
		{"VIP: 10.0.0.1", `error: syntax error: "VIP: 10.0.0.1" is neither VIP, VIP=DSCP nor a comment`},
		{"10.0.0.1;3", `error: VIP "10.0.0.1;3" is not an IP address`},
		{"10.0.0.300=3", `error: VIP "10.0.0.300" is not an IP address`},
		{"fe80::1%eth0=3", `error: VIP "fe80::1%eth0" has a zone`},
		{"::ffff:10.0.0.128=3", "error: VIP ::ffff:10.0.0.128 is not a plain IPv4 or IPv6 address"},
		{"127.0.0.1=3", "error: VIP 127.0.0.1 is not a unicast service address"},
		{"www.example.com=3", `error: VIP "www.example.com" is a host name, which l3dsr does not resolve at boot: convert the files once with 'l3dsr save --from-dsrtools DIR'`},
	} {
		v, err := dsrTools{}.line(tc.line)
		var g string
		if v != nil {
			g = v.Config.String()
		}
		if err != nil {
			g = "error: " + err.Error()
		}
		if (tc.want == "" && g != "") || !strings.HasPrefix(g, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.line, g, tc.want)
		}
	}
}

func TestParseDSRToolsErrors(t *testing.T) {
	dir := testfiles.Write(t, map[string]string{
		"a.conf": "10.0.0.1=64\nvip.example.com=3\n10.0.0.2 =\n10.0.0.3=x\n",
	})
	_, err := dsrTools{}.dir(dir)
	var es Errors
	if !errors.As(err, &es) || len(es) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	for i, w := range []string{`DSCP "64" is out of range`, "is a host name, which l3dsr does not resolve at boot", "syntax error", `DSCP "x"`} {
		if es[i].pos.Line != i+1 || !strings.Contains(es[i].Msg, w) || !strings.HasSuffix(es[i].pos.File, "a.conf") {
			t.Errorf("error %d = %v; want line %d and %q", i, es[i], i+1, w)
		}
	}
	if _, err := (dsrTools{}).dir(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing directory: err = %v", err)
	}
}

func TestLoadMergesDSRTools(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "dsr.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dsr.d/a.conf", "10.0.0.1=21\n10.0.0.5=25\n")
	write("l3dsr.conf", "dsrtools: dsr.d\nrealserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 21}\n")
	f, err := Load(filepath.Join(root, "l3dsr.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.realServer.VIPs); n != 2 {
		t.Fatalf("want 10.0.0.1 once (same in both) and 10.0.0.5: got %d VIPs %+v", n, f.realServer.VIPs)
	}
	if v := f.realServer.VIPs[1]; v.Config.VIP.String() != "10.0.0.5" || *v.Config.DSCP != 25 {
		t.Errorf("merged VIP = %+v", v)
	}

	// A clash names both places.
	write("dsr.d/a.conf", "10.0.0.1=22\n10.0.0.7=21\n")
	_, err = Load(filepath.Join(root, "l3dsr.conf"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if !strings.Contains(es[0].Error(), "a.conf:1: VIP 10.0.0.1 is given twice (also at "+filepath.Join(root, "l3dsr.conf")+":4)") {
		t.Errorf("error 0 = %v", es[0])
	}
	if !strings.Contains(es[1].Error(), "a.conf:2: VIPs 10.0.0.7 and 10.0.0.1") || !strings.Contains(es[1].Error(), "both use DSCP 21") {
		t.Errorf("error 1 = %v", es[1])
	}

	// dsrtools alone makes a real-server section.
	write("only.conf", "dsrtools: "+filepath.Join(root, "dsr.d")+"\n")
	write("dsr.d/a.conf", "10.0.0.3=3\n")
	f, err = Load(filepath.Join(root, "only.conf"))
	if err != nil || f.realServer == nil || len(f.realServer.VIPs) != 1 || f.director != nil {
		t.Errorf("Load = %+v, %v", f, err)
	}
}

// fakeResolver answers from a map; a name it lacks does not resolve.
func fakeResolver(names map[string][]string) resolver {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		as, ok := names[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, a := range as {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

// A host name is resolved when converting, to its IPv4 address as dsrctl
// takes it (else its IPv6 one), and written with a comment naming the host.
func TestDSRToolsHostName(t *testing.T) {
	r := dsrTools{fakeResolver(map[string][]string{
		"web.example.com":  {"192.0.2.80"},
		"dual.example.com": {"2001:db8::80", "::ffff:192.0.2.81", "192.0.2.81"},
		"many.example.com": {"192.0.2.2", "192.0.2.1", "2001:db8::1"},
		"six.example.com":  {"2001:db8::1", "2001:db8::2"},
		"none.example.com": {},
		"v6.example.com":   {"2001:db8::6"},
	})}
	for _, tc := range []struct{ line, want string }{
		{"web.example.com=3", "VIP 192.0.2.80 (dscp, DSCP 3) # web.example.com, resolved by l3dsr save --from-dsrtools"},
		{"dual.example.com = 0x13", "VIP 192.0.2.81 (dscp, DSCP 19) # dual.example.com, resolved by l3dsr save --from-dsrtools (its IPv4 address, as dsrctl takes it; it also has 2001:db8::80)"},
		{"v6.example.com=4", "VIP 2001:db8::6 (dscp, DSCP 4) # v6.example.com, resolved by l3dsr save --from-dsrtools"},
		{"web.example.com", "VIP 192.0.2.80 (dr) # web.example.com, resolved by l3dsr save --from-dsrtools"},
		{"many.example.com=3", `error: VIP "many.example.com" resolves to several IPv4 addresses (192.0.2.1, 192.0.2.2): write the one that is the VIP`},
		{"six.example.com=3", `error: VIP "six.example.com" resolves to several IPv6 addresses (2001:db8::1, 2001:db8::2): write the one that is the VIP`},
		{"none.example.com=3", `error: VIP "none.example.com" resolves to no address: write the address`},
		{"gone.example.com=3", `error: VIP "gone.example.com" does not resolve (lookup gone.example.com: no such host): write the address`},
		{"10.0.0.1=3", "VIP 10.0.0.1 (dscp, DSCP 3)"},
	} {
		v, err := r.line(tc.line)
		var g string
		if v != nil {
			g = v.Config.String()
			if v.note != "" {
				g += " # " + v.note
			}
		}
		if err != nil {
			g = "error: " + err.Error()
		}
		if g != tc.want {
			t.Errorf("%q:\ngot  %q\nwant %q", tc.line, g, tc.want)
		}
	}

	// The converted file names the host beside the address, and loads.
	dir := testfiles.Write(t, map[string]string{"a.conf": "web.example.com=3\n"})
	f, err := fromDSRTools(dir, r.resolve)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(f, "")
	want := "realserver:\n  vips:\n    - vip: 192.0.2.80 # web.example.com, resolved by l3dsr save --from-dsrtools\n      dscp: 3\n"
	if err != nil || string(out) != want {
		t.Fatalf("Marshal = %q, %v; want %q", out, err, want)
	}
	if g, err := parseFile("saved", out); err != nil || g.realServer.VIPs[0].Config.VIP != netip.MustParseAddr("192.0.2.80") {
		t.Errorf("the converted file does not load: %v", err)
	}
}
