// Command gen writes a pcap file of generated L3 DSR traffic, for the
// verify benchmark (scripts/bench-verify.sh) and for trying verify out.
//
//	go run ./pcapcheck/pcapgen/gen -n 1000000 -o dsr.pcap
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

func main() {
	n := flag.Int("n", 1000000, "number of packets")
	out := flag.String("o", "dsr.pcap", "output file")
	ng := flag.Bool("ng", false, "write pcapng instead of pcap")
	seed := flag.Uint64("seed", 1, "random seed")
	plain := flag.Bool("plain", false, "only DSR flows: no VLAN tags, truncation or noise")
	flag.Parse()
	if err := run(*out, *n, *ng, *seed, *plain); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string, n int, ng bool, seed uint64, plain bool) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w, err := pcapgen.NewWriter(f, ng, 65535)
	if err != nil {
		f.Close()
		return err
	}
	m := pcapgen.Mix{Seed: seed, Codes: []uint8{21, 22, 23, 46}, IPv6: true, Tags: !plain, Truncate: !plain, Noise: !plain}
	if err := m.Generate(w, n); err != nil {
		f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
