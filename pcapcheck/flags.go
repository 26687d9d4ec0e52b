package pcapcheck

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/spf13/pflag"
)

// Args are verify's flags as the operator wrote them (AddFlags registers
// them). Options turns them into the options of one verification; every
// error it returns is the command line's, naming the flag and the fix.
type Args struct {
	Iface, File, Write, Role string
	Mode                     dsrtypes.Mode
	Codes                    DSCPSet
	Count                    int
	Duration                 time.Duration
	// DurationSet: --duration was given (even as 0).
	DurationSet bool
	// maps are --map DSCP=VIP[@LOCAL], expects --expect VIP[:PORT]=DSCP,
	// ports --port lists.
	maps, expects, ports []string
	// CheckMapping, if set, also checks each --map entry: the rules of the
	// table the mapping stands in for, which this package does not know.
	CheckMapping func(MapEntry) error
}

// AddFlags registers a's flags, verify's, on fs, with their defaults.
func (a *Args) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.Iface, "iface", "", "capture live on this interface (needs root)")
	fs.StringVar(&a.File, "pcap", "", "read this pcap or pcapng file instead")
	fs.Var(&a.Codes, "dscp", "DSCP codes to look at: a list of codes and ranges, e.g. 21,22 or 1-63 (default: 1-63 on a real server, the --expect codes on a director)")
	fs.IntVar(&a.Count, "count", 0, "stop after this many captured packets (0: no limit)")
	fs.DurationVar(&a.Duration, "duration", 0, "stop a live capture after this long, e.g. 10s (0: until Ctrl-C)")
	fs.StringVar(&a.Write, "write", "", "also write the packets looked at to this file (pcap; pcapng if it ends in .pcapng)")
	fs.StringVar(&a.Role, "role", "realserver", "where verify runs: realserver or director")
	a.Mode = dsrtypes.ModeDSCP
	fs.Var(&a.Mode, "mode", "how the director reaches the real servers: dscp (marked packets to the RIP), addr (packets with any DSCP to the VIP's own RIP) or ipip (a tunnel to the RIP)")
	fs.StringArrayVar(&a.maps, "map", nil, "DSCP=VIP[@LOCAL], or any=VIP@RIP (addr mode): use this mapping instead of the module's table (repeatable)")
	fs.StringArrayVar(&a.expects, "expect", nil, "director: VIP[:PORT]=DSCP, the code packets for that service must carry (repeatable; IPv6 as [ADDR]:PORT)")
	fs.StringArrayVar(&a.ports, "port", nil, "real server: capture replies only from these service ports (default: every port of the VIPs and the interface's addresses)")
}

// roles are the names --role takes.
var roles = map[string]Role{
	"realserver": roleRealServer, "real-server": roleRealServer, "rs": roleRealServer,
	"director": roleDirector,
}

// Options checks a and returns the options of one verification, with the
// defaults filled in (Check), so that bad input is refused before anything
// is opened.
func (a Args) Options() (*Options, error) {
	switch {
	case a.Count < 0:
		return nil, fmt.Errorf("--count %d is negative: give a number of packets, or 0 for no limit", a.Count)
	case a.Duration < 0:
		return nil, fmt.Errorf("--duration %s is negative: give a duration such as 10s", a.Duration)
	case a.File != "" && a.DurationSet:
		return nil, fmt.Errorf("--duration is for a live capture: a file is read to its end (use --count to stop early)")
	case a.Write != "" && a.Write == a.File:
		return nil, fmt.Errorf("--write %s would overwrite the file being read: write to another file", a.Write)
	}
	o := &Options{Mode: a.Mode, Codes: a.Codes, Iface: a.Iface, File: a.File, Count: a.Count, Duration: a.Duration, Write: a.Write}
	role, ok := roles[a.Role]
	if !ok {
		return nil, fmt.Errorf("--role %q is unknown: use realserver or director", a.Role)
	}
	o.Role = role
	for _, s := range a.maps {
		e, err := parseMapFlag(s)
		if err == nil && a.CheckMapping != nil {
			if err = a.CheckMapping(e); err != nil {
				err = fmt.Errorf("--map %s: %w", s, err)
			}
		}
		if err != nil {
			return nil, err
		}
		o.Mapping = append(o.Mapping, e)
	}
	for _, s := range a.expects {
		e, err := parseExpectFlag(s)
		if err != nil {
			return nil, err
		}
		o.expect = append(o.expect, e)
	}
	for _, s := range a.ports {
		for _, t := range strings.Split(s, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(t), 10, 16)
			if err != nil || v == 0 {
				return nil, fmt.Errorf("--port %q is not a port: give a number 1-65535", t)
			}
			o.ports = append(o.ports, uint16(v))
		}
	}
	if o.Role == roleDirector {
		if len(o.expect) == 0 {
			return nil, fmt.Errorf("--role director needs the DSCP of each VIP: give --expect VIP:PORT=DSCP, e.g. --expect 10.80.0.1:80=21")
		}
		if len(o.Mapping) > 0 || len(o.ports) > 0 {
			return nil, fmt.Errorf("--map and --port are for --role realserver; a director is checked against --expect")
		}
	} else if len(o.expect) > 0 {
		return nil, fmt.Errorf("--expect is for --role director; a real server is checked against its table (or --map)")
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	return o, nil
}

// parseMapFlag parses DSCP=VIP[@LOCAL], and any=VIP@RIP.
func parseMapFlag(s string) (MapEntry, error) {
	code, rest, ok := strings.Cut(s, "=")
	if !ok {
		return MapEntry{}, fmt.Errorf("--map %q: write DSCP=VIP or DSCP=VIP@LOCAL, e.g. --map 21=10.80.0.1, or any=VIP@RIP in addr mode", s)
	}
	vip, local, hasLocal := strings.Cut(rest, "@")
	var e MapEntry
	if strings.EqualFold(strings.TrimSpace(code), "any") {
		if !hasLocal {
			return e, fmt.Errorf("--map %s: an any-DSCP mapping needs the VIP's own address on this server, or it would take every packet: write any=VIP@RIP", s)
		}
		e.AnyDSCP = true
	} else {
		c, err := dsrtypes.ParseDSCP(code)
		if err != nil {
			return MapEntry{}, fmt.Errorf("--map %s: %w", s, err)
		}
		e.DSCP = uint8(c)
	}
	var err error
	if e.VIP, err = dsrtypes.ParseAddr(vip); err != nil {
		return e, fmt.Errorf("--map %s: VIP %w", s, err)
	}
	if hasLocal {
		if e.Local, err = dsrtypes.ParseAddr(local); err != nil {
			return e, fmt.Errorf("--map %s: local address %w", s, err)
		}
	}
	return e, nil
}

// parseExpectFlag parses VIP[:PORT]=DSCP, with IPv6 as [ADDR]:PORT or ADDR.
func parseExpectFlag(s string) (Expectation, error) {
	svc, code, ok := strings.Cut(s, "=")
	if !ok {
		return Expectation{}, fmt.Errorf("--expect %q: write VIP:PORT=DSCP, e.g. --expect 10.80.0.1:80=21 or --expect [2001:db8:80::1]:80=22", s)
	}
	var e Expectation
	c, err := dsrtypes.ParseDSCP(code)
	if err != nil {
		return e, fmt.Errorf("--expect %s: %w", s, err)
	}
	e.DSCP = uint8(c)
	if ap, err := netip.ParseAddrPort(svc); err == nil {
		e.VIP, e.Port = ap.Addr(), ap.Port()
		if e.Port == 0 {
			return e, fmt.Errorf("--expect %q: port 0 is not a service port: leave the port out to match any", s)
		}
	} else if e.VIP, err = netip.ParseAddr(strings.Trim(svc, "[]")); err != nil {
		return e, fmt.Errorf("--expect %q: %q is not VIP or VIP:PORT: write e.g. 10.80.0.1:80 or [2001:db8:80::1]:80", s, svc)
	}
	if e.VIP.Zone() != "" || e.VIP.Is4In6() || e.VIP.IsUnspecified() || e.VIP.IsMulticast() {
		return e, fmt.Errorf("--expect %q: %s is not a unicast VIP", s, e.VIP)
	}
	return e, nil
}
