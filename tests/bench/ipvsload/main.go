// Command ipvsload creates many IPVS services through the project's Go IPVS client (package
// ipvs), for the control-plane row of the benchmark (tests/bench/lib/cp.sh): the same 1,000
// TCP services with 4 masquerading real servers each that `ipvsadm -R` gets there, so that the
// two wall times compare. It works in the calling process's network namespace.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

func main() {
	services := flag.Int("services", 1000, "number of TCP services (10.90.0.1:80 upward, at most 1000)")
	reals := flag.Int("reals", 4, "real servers per service (192.0.2.1:80 upward, at most 254)")
	flag.Parse()
	if *services < 1 || *services > 1000 || *reals < 1 || *reals > 254 {
		fmt.Fprintf(os.Stderr, "ipvsload: -services %d -reals %d: give 1-1000 services and 1-254 reals\n", *services, *reals)
		os.Exit(2)
	}
	if err := load(*services, *reals); err != nil {
		fmt.Fprintf(os.Stderr, "ipvsload: %v\n", err)
		os.Exit(1)
	}
}

// load mirrors cp.sh's ipvsadm input: service s is 10.90.(s/250).(s%250+1):80, wlc.
func load(services, reals int) error {
	c, err := ipvs.New()
	if err != nil {
		return fmt.Errorf("open the IPVS client: %w", err)
	}
	defer c.Close()
	for s := 0; s < services; s++ {
		svc := ipvs.Service{
			Protocol:  ipvs.ProtoTCP,
			Address:   netip.AddrFrom4([4]byte{10, 90, byte(s / 250), byte(s%250 + 1)}),
			Port:      80,
			Scheduler: "wlc",
		}
		if err := c.CreateService(svc); err != nil {
			return fmt.Errorf("service %d: %w", s, err)
		}
		for r := 1; r <= reals; r++ {
			d := ipvs.Destination{
				Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(r)}),
				Port:    80,
				Forward: ipvs.Masquerade,
				Weight:  1,
			}
			if err := c.CreateDestination(svc, d); err != nil {
				return fmt.Errorf("service %d, real %d: %w", s, r, err)
			}
		}
	}
	return nil
}
