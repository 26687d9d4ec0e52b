// mhpick prints the real each of a run of client ports would be scheduled
// to by an mh service of the kernel in this network namespace, as
// internal/ipvs's model of ip_vs_mh computes it from the service's
// destinations (read in the kernel's list order, which the table depends
// on): "PORT REAL_ADDRESS", one line a port, sorted by port, the format of
// the probe of tests/ecmp/mh_order.sh, so that the scenario can hold the
// model to what the kernel did.
//
//	mhpick -vip 10.0.0.100:80 -proto tcp -client 10.8.0.2 -from 40000 -count 3000
//
// A port whose flow the kernel would not schedule (no destination
// available) prints "PORT -".
package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mhpick", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vip := fs.String("vip", "", "the service's ADDRESS:PORT, e.g. 10.0.0.100:80")
	proto := fs.String("proto", "tcp", "the service's protocol: tcp, udp or sctp")
	client := fs.String("client", "", "the client's address")
	from := fs.Uint("from", 0, "the first client port")
	count := fs.Uint("count", 1, "how many client ports, from -from on")
	size := fs.Int("table-size", ipvs.MHTableSize, "the kernel's mh table size (CONFIG_IP_VS_MH_TAB_INDEX: 12 is 4093)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	svc, c, err := parseArgs(*vip, *proto, *client, *from, *count)
	if err != nil {
		fmt.Fprintf(stderr, "mhpick: %v\n", err)
		return 2
	}
	tab, dests, err := readTable(svc, *size)
	if err != nil {
		fmt.Fprintf(stderr, "mhpick: %v\n", err)
		return 1
	}
	for p := *from; p < *from+*count; p++ {
		addr := "-"
		if i, ok := tab.Pick(c, uint16(p)); ok {
			addr = dests[i].Addr.String()
		}
		fmt.Fprintf(stdout, "%d %s\n", p, addr)
	}
	return 0
}

func parseArgs(vip, proto, client string, from, count uint) (ipvs.Service, netip.Addr, error) {
	ap, err := netip.ParseAddrPort(vip)
	if err != nil {
		return ipvs.Service{}, netip.Addr{}, fmt.Errorf("-vip %q: want ADDRESS:PORT, e.g. 10.0.0.100:80", vip)
	}
	protos := map[string]ipvs.Protocol{"tcp": ipvs.ProtoTCP, "udp": ipvs.ProtoUDP, "sctp": ipvs.ProtoSCTP}
	p, ok := protos[proto]
	if !ok {
		return ipvs.Service{}, netip.Addr{}, fmt.Errorf("-proto %q: want tcp, udp or sctp", proto)
	}
	c, err := netip.ParseAddr(client)
	if err != nil {
		return ipvs.Service{}, netip.Addr{}, fmt.Errorf("-client %q: want an IP address, e.g. 10.8.0.2", client)
	}
	if from+count > 65536 || count == 0 {
		return ipvs.Service{}, netip.Addr{}, fmt.Errorf("-from %d -count %d: want 1 or more ports, the last at most 65535", from, count)
	}
	return ipvs.Service{Protocol: p, Address: ap.Addr().Unmap(), Port: ap.Port()}, c.Unmap(), nil
}

// readTable reads the service (for its family and flags) and its
// destinations, in the order the kernel lists them: mh's fill walks that
// order, so sorting them would give another table.
func readTable(key ipvs.Service, size int) (*ipvs.MHTable, []ipvs.MHDest, error) {
	cl, err := ipvs.New()
	if err != nil {
		return nil, nil, fmt.Errorf("opening IPVS's netlink family: %w", err)
	}
	defer cl.Close()
	svc, err := cl.Service(key)
	if err != nil {
		return nil, nil, err
	}
	if svc.Scheduler != "mh" {
		return nil, nil, fmt.Errorf("service %v uses the %q scheduler, not mh", svc, svc.Scheduler)
	}
	ds, err := cl.Destinations(svc)
	if err != nil {
		return nil, nil, err
	}
	dests := make([]ipvs.MHDest, len(ds))
	for i, d := range ds {
		// The port as the kernel holds it, which is what it hashed.
		// Netlink carries neither a destination's last non-zero weight nor
		// its overload flag: a destination at weight 0 is taken as added
		// so (no slots), and none as overloaded (no upper threshold met).
		dests[i] = ipvs.MHDest{Addr: d.Address, Port: d.Port, Weight: d.Weight, LastWeight: 0, Overloaded: false}
	}
	tab, err := ipvs.NewMHTable(svc, dests, size)
	if err != nil {
		return nil, nil, err
	}
	return tab, dests, nil
}
