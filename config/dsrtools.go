package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// dsrTools reads Yahoo dsrtools files (dsr.conf(5)): every *.conf of a
// directory, in name order. A line is `VIP=DSCP` (L3 DSR, a dscp-mode VIP),
// `VIP` alone (L2 DSR, a dr-mode VIP) or nothing; '#' starts a comment and
// spaces around the VIP, the '=' and the code are ignored. The DSCP may be
// decimal, octal (041) or hex (0x21, 0X21), as dsrctl reads it. Every
// problem is an error with the file and line.
type dsrTools struct {
	// resolve looks a host name up. 'l3dsr save --from-dsrtools' runs
	// once, by hand, and gives one; at boot (the dsrtools key of the config
	// file) it is nil and a host name is refused: nothing is resolved then.
	resolve resolver
}

func (r dsrTools) dir(dir string) ([]VIP, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("dsrtools directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("dsrtools %s is not a directory: give the directory of the *.conf files, e.g. /etc/dsr.d", dir)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, fmt.Errorf("dsrtools directory %s: %w", dir, err)
	}
	slices.Sort(names)
	var vips []VIP
	var errs Errors
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading dsrtools file: %w", err)
		}
		v, e := r.file(name, string(data))
		vips = append(vips, v...)
		errs = append(errs, e...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return groupCodes(vips), nil
}

// groupCodes makes the VIP=DSCP lines of one VIP one VIP with a list of
// codes, in file and line order (dsrtools maps up to 63 codes to a VIP).
// A code repeated stays in the list, for check to refuse naming both
// lines; a VIP both alone (L2) and with a code stays twice, for check to
// refuse too.
func groupCodes(lines []VIP) []VIP {
	var out []VIP
	for _, v := range lines {
		i := slices.IndexFunc(out, func(o VIP) bool {
			return o.Config.VIP == v.Config.VIP && o.Config.Mode == dsrtypes.ModeDSCP && v.Config.Mode == dsrtypes.ModeDSCP
		})
		if i < 0 {
			out = append(out, v)
			continue
		}
		out[i].addCode(v.codes[0], v.codePos[0])
	}
	return out
}

func (r dsrTools) file(name, data string) ([]VIP, Errors) {
	var vips []VIP
	var errs Errors
	sc := bufio.NewScanner(strings.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		pos := Pos{name, line}
		v, err := r.line(sc.Text())
		if err != nil {
			errs = append(errs, Error{pos, err.Error()})
			continue
		}
		if v != nil {
			v.pos = pos
			if v.Config.DSCP != nil {
				v.withCodes(realserver.Codes{*v.Config.DSCP}, []Pos{pos})
			}
			vips = append(vips, *v)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, Error{Pos{name, 0}, fmt.Sprintf("reading: %v", err)})
	}
	return vips, errs
}

// line reads one line: nothing for a blank or comment line.
func (r dsrTools) line(raw string) (*VIP, error) {
	text, _, _ := strings.Cut(raw, "#")
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	vs, ds, l3 := strings.Cut(text, "=")
	vs, ds = strings.TrimSpace(vs), strings.TrimSpace(ds)
	if vs == "" || strings.ContainsAny(vs, " \t") || (l3 && (ds == "" || strings.ContainsAny(ds, " \t="))) {
		return nil, fmt.Errorf("syntax error: %q is neither VIP, VIP=DSCP nor a comment", text)
	}
	c := realserver.Config{Mode: dsrtypes.ModeDR}
	if l3 {
		code, err := parseDSRToolsDSCP(ds)
		if err != nil {
			return nil, err
		}
		c.Mode, c.DSCP = dsrtypes.ModeDSCP, &code
	}
	var note string
	var err error
	if c.VIP, note, err = r.vip(vs); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &VIP{Config: c, note: note}, nil
}

// parseDSRToolsDSCP reads a code as dsrctl does: decimal, octal with a
// leading 0, hex with 0x or 0X. (dsrtypes.ParseDSCP, for l3dsr's own
// flags, refuses the leading 0 as ambiguous; here it is the file format.)
func parseDSRToolsDSCP(s string) (uint8, error) {
	digits, base := s, 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		digits, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		digits, base = s[1:], 8
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil && v == 0 {
		octal := ""
		if base == 8 {
			octal = " (a leading 0 makes it octal, as dsrctl reads it)"
		}
		return 0, fmt.Errorf("DSCP %q is not a number%s: give a code 0-%d in decimal, octal (leading 0) or hex (0x)", s, octal, dsrtypes.MaxDSCP)
	}
	if err != nil || v > uint64(dsrtypes.MaxDSCP) {
		if base == 10 || err != nil {
			return 0, fmt.Errorf("DSCP %q is out of range: use 0-%d", s, dsrtypes.MaxDSCP)
		}
		return 0, fmt.Errorf("DSCP %q (%d) is out of range: use 0-%d", s, v, dsrtypes.MaxDSCP)
	}
	return uint8(v), nil
}

// mergeDSRTools adds the dsrtools VIPs to the real-server section. One that
// the YAML has already, the same way (the same codes, in any order), is
// taken once; any other clash, and a line the dsrtools files repeat, is left
// for check to report with both places.
func mergeDSRTools(f *File, vips []VIP) {
	if f.realServer == nil {
		f.realServer = &RealServer{}
	}
	yaml := f.realServer.VIPs
	for _, v := range vips {
		same := slices.ContainsFunc(yaml, func(o VIP) bool {
			a, b := o.Config, v.Config
			return a.VIP == b.VIP && a.Mode == b.Mode && !a.Local.IsValid() && a.MSS == 0 && sameCodes(o.codes, v.codes)
		})
		if !same {
			f.realServer.VIPs = append(f.realServer.VIPs, v)
		}
	}
}

// sameCodes reports whether a and b hold the same codes, in any order.
func sameCodes(a, b realserver.Codes) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
