package doctor

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/internal/testfiles"
)

// expectConf has both sections; a VIP of two codes is two units.
const expectConf = `director:
  services:
    - {vip: "10.0.0.1:80", dscp: 21, reals: [{address: 192.0.2.20}], health: {kind: tcp}}
    - {vip: "10.0.0.1:81", dscp: 22, reals: [{address: 192.0.2.20}], health: {kind: tcp, via: rip}}
    - {vip: "10.0.0.1:82", dscp: 23, reals: [{address: 192.0.2.20}]}
realserver:
  vips:
    - {vip: 10.0.0.1, dscp: [21, 22]}
    - {vip: 10.0.0.2, mode: ipip}
`

func TestExpected(t *testing.T) {
	dir := testfiles.Write(t, map[string]string{
		"bad.conf":   "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 99\n",
		"l3dsr.conf": expectConf,
	})
	// The default file missing: the running state decides.
	e, err := Expected(filepath.Join(dir, "none.conf"), false)
	if err != nil || e.file != "" || e.rs || e.dir {
		t.Errorf("default file missing: %+v, %v", e, err)
	}
	// Given and missing, or wrong: the caller's to fix (exit 2).
	if _, err := Expected(filepath.Join(dir, "none.conf"), true); !errors.Is(err, config.ErrGiven) {
		t.Errorf("given file missing: %v", err)
	}
	bad := filepath.Join(dir, "bad.conf")
	if _, err := Expected(bad, false); !errors.Is(err, config.ErrGiven) || !strings.Contains(err.Error(), bad+":4:") {
		t.Errorf("file with an error: %v", err)
	}
	good := filepath.Join(dir, "l3dsr.conf")
	e, err = Expected(good, false)
	if err != nil {
		t.Fatal(err)
	}
	var vips []string
	for _, v := range e.vips {
		s := v.VIP.String() + " " + string(modeOf(v))
		if v.DSCP != nil {
			s += " " + fmt.Sprint(*v.DSCP)
		}
		vips = append(vips, s)
	}
	if e.file != good || !e.rs || !e.dir || strings.Join(vips, ",") != "10.0.0.1 dscp 21,10.0.0.1 dscp 22,10.0.0.2 ipip" ||
		len(e.services) != 3 || e.services[0].key.String() != "tcp 10.0.0.1:80" || fmt.Sprint(e.services[0].reals) != "[192.0.2.20]" {
		t.Errorf("expected %+v (vips %q)", e, vips)
	}
	// A dscp service's check goes the DSR path unless it says rip; no
	// check, no path.
	if !e.services[0].dsrCheck || e.services[1].dsrCheck || e.services[2].dsrCheck {
		t.Errorf("DSR-path checks: %+v", e.services)
	}
	if e.apply() != "l3dsr apply -f "+good {
		t.Errorf("apply %q", e.apply())
	}
}
