package config

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// parseDSRTools reads the VIP=DSCP lines of Yahoo dsrtools files (dsr.conf(5)):
// every *.conf in dir, in name order; '#' starts a comment, blank lines are
// skipped. The DSCP may be decimal, octal (041) or hex (0x21), as dsrctl
// reads it. What l3dsr cannot do the same way is an error with the file and
// line: a host name instead of an address (l3dsr does not resolve names at
// boot) and an L2DSR line (a VIP without a DSCP).
func parseDSRTools(dir string) ([]VIP, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, fmt.Errorf("dsrtools directory %s: %w", dir, err)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("dsrtools directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("dsrtools %s is not a directory: give the directory of the *.conf files, e.g. /etc/dsr.d", dir)
	}
	slices.Sort(names)
	var vips []VIP
	var errs Errors
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading dsrtools file: %w", err)
		}
		v, e := parseDSRFile(name, string(data))
		vips = append(vips, v...)
		errs = append(errs, e...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return vips, nil
}

func parseDSRFile(name, data string) ([]VIP, Errors) {
	var vips []VIP
	var errs Errors
	sc := bufio.NewScanner(strings.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		pos := Pos{name, line}
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		vs, ds, hasDSCP := strings.Cut(text, "=")
		vs, ds = strings.TrimSpace(vs), strings.TrimSpace(ds)
		if !hasDSCP {
			errs = append(errs, Error{pos, fmt.Sprintf("%q is an L2DSR line (a VIP without a DSCP code), which l3dsr does not set up: add =DSCP for L3 DSR, or keep this VIP with dsrtools", text)})
			continue
		}
		a, err := netip.ParseAddr(vs)
		if err != nil || a.Zone() != "" {
			errs = append(errs, Error{pos, fmt.Sprintf("VIP %q is not an IP address (l3dsr does not resolve host names at boot): write the address", vs)})
			continue
		}
		d, err := strconv.ParseUint(ds, 0, 8)
		if err != nil || d > uint64(dsrtypes.MaxDSCP) {
			errs = append(errs, Error{pos, fmt.Sprintf("DSCP %q is not a code 0-63 (decimal, 0-prefixed octal or 0x-prefixed hex)", ds)})
			continue
		}
		code := uint8(d)
		c := realserver.Config{VIP: a, Mode: dsrtypes.ModeDSCP, DSCP: &code}
		if err := c.Validate(); err != nil {
			errs = append(errs, Error{pos, err.Error()})
			continue
		}
		vips = append(vips, VIP{Config: c, pos: pos})
	}
	return vips, errs
}

// mergeDSRTools adds the dsrtools VIPs to the real-server section. One that
// the YAML has already, the same way, is taken once; any other clash is left
// for check to report with both places.
func mergeDSRTools(f *File, vips []VIP) {
	if f.RealServer == nil {
		f.RealServer = &RealServer{}
	}
	for _, v := range vips {
		same := slices.ContainsFunc(f.RealServer.VIPs, func(o VIP) bool {
			c := o.Config
			return c.VIP == v.Config.VIP && c.Mode == dsrtypes.ModeDSCP && !c.Local.IsValid() &&
				c.DSCP != nil && *c.DSCP == *v.Config.DSCP
		})
		if !same {
			f.RealServer.VIPs = append(f.RealServer.VIPs, v)
		}
	}
}
