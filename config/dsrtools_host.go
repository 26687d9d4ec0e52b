package config

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// resolver returns the addresses of a host name.
type resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// systemResolver asks the system's resolver (/etc/hosts, DNS).
func systemResolver(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// resolveTimeout bounds one host name's lookup.
const resolveTimeout = 10 * time.Second

// hostName is the shape of a DNS name (RFC 1123 labels, an optional final
// dot). What is neither an address nor this is a syntax error, not a name
// to look up.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

// vip reads the VIP of a line: an address, or a host name that r resolves
// (dsr.conf(5) allows names). As dsrctl(8) does, a name stands for its IPv4
// address even if it has an IPv6 one too; a name with only an IPv6 address
// stands for that. note, for a name, is the comment the converted file
// keeps beside the address.
func (r dsrTools) vip(s string) (vip netip.Addr, note string, err error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return vip, "", fmt.Errorf("VIP %q has a zone: write the address without %%%s", s, a.Zone())
		}
		return a, "", nil
	}
	if strings.Contains(s, ":") || strings.Trim(s, "0123456789.") == "" || !hostName.MatchString(s) {
		return vip, "", fmt.Errorf("VIP %q is not an IP address: write the address (IPv4 a.b.c.d, or IPv6)", s)
	}
	if r.resolve == nil {
		return vip, "", fmt.Errorf("VIP %q is a host name, which l3dsr does not resolve at boot: convert the files once with 'l3dsr save --from-dsrtools DIR', which resolves it, or write the address", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	found, err := r.resolve(ctx, s)
	if err != nil {
		return vip, "", fmt.Errorf("VIP %q does not resolve (%v): write the address", s, err)
	}
	var v4, v6 []netip.Addr
	for _, a := range found {
		switch a = a.Unmap(); {
		case a.Is4() && !slices.Contains(v4, a):
			v4 = append(v4, a)
		case a.Is6() && !slices.Contains(v6, a):
			v6 = append(v6, a)
		}
	}
	note = s + ", resolved by l3dsr save --from-dsrtools"
	switch {
	case len(v4) > 1:
		return vip, "", fmt.Errorf("VIP %q resolves to several IPv4 addresses (%s): write the one that is the VIP", s, addrList(v4))
	case len(v6) > 1:
		return vip, "", fmt.Errorf("VIP %q resolves to several IPv6 addresses (%s): write the one that is the VIP", s, addrList(v6))
	case len(v4) == 1 && len(v6) == 1:
		return v4[0], note + " (its IPv4 address, as dsrctl takes it; it also has " + v6[0].String() + ")", nil
	case len(v4) == 1:
		return v4[0], note, nil
	case len(v6) == 1:
		return v6[0], note, nil
	}
	return vip, "", fmt.Errorf("VIP %q resolves to no address: write the address", s)
}

// addrList is addrs sorted, for a message.
func addrList(addrs []netip.Addr) string {
	slices.SortFunc(addrs, netip.Addr.Compare)
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
