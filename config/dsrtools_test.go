package config

import (
	"errors"
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
	vips, err := parseDSRTools(dir)
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

func TestParseDSRToolsErrors(t *testing.T) {
	dir := testfiles.Write(t, map[string]string{
		"a.conf": "10.0.0.1=64\nvip.example.com=3\n10.0.0.2\n10.0.0.3=x\n",
	})
	_, err := parseDSRTools(dir)
	var es Errors
	if !errors.As(err, &es) || len(es) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	for i, w := range []string{"DSCP \"64\" is not a code 0-63", "not an IP address (l3dsr does not resolve host names", "L2DSR line", "DSCP \"x\""} {
		if es[i].pos.Line != i+1 || !strings.Contains(es[i].Msg, w) || !strings.HasSuffix(es[i].pos.File, "a.conf") {
			t.Errorf("error %d = %v; want line %d and %q", i, es[i], i+1, w)
		}
	}
	if _, err := parseDSRTools(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
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
	if n := len(f.RealServer.VIPs); n != 2 {
		t.Fatalf("want 10.0.0.1 once (same in both) and 10.0.0.5: got %d VIPs %+v", n, f.RealServer.VIPs)
	}
	if v := f.RealServer.VIPs[1]; v.Config.VIP.String() != "10.0.0.5" || *v.Config.DSCP != 25 {
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
	if err != nil || f.RealServer == nil || len(f.RealServer.VIPs) != 1 || f.Director != nil {
		t.Errorf("Load = %+v, %v", f, err)
	}
}
