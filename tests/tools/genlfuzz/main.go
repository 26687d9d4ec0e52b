// genlfuzz fuzzes the l3dsr generic netlink family (kmod/daddr_genl.c):
// valid and malformed requests from several sockets at once, staged
// replaces abandoned by closed sockets, namespaces created and dropped
// while requests run; then it checks the table dumps consistently, its
// counts add up and a flush empties it. It runs as root in the VM guest
// (tests/scenarios/genl_fuzz.sh). Every FINDING line makes the exit status 1;
// the seed, printed first, replays a run: the same -seed and -iterations
// with -workers 1 -netns-churn=false send the same messages in the same
// order.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genlfuzz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "the seed (default: from the time)")
	iterations := fs.Int64("iterations", 0, "stop after this many iterations (0: no limit)")
	duration := fs.Duration("duration", 0, "stop after this long (0: no limit; one of the two is needed)")
	workers := fs.Int("workers", 4, "parallel sockets")
	churn := fs.Bool("netns-churn", true, "create and drop namespaces while fuzzing")
	keepSpec := fs.String("keep", "", "DSCP,VIP: an IPv4 entry for the traffic's packets, re-added now and then")
	timeout := fs.Duration("timeout", 30*time.Second, "longest wait for an answer: a longer one is a hang")
	verbose := fs.Bool("v", false, "print every request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fmt.Fprintf(stdout, "seed=%d\n", *seed)
	if *iterations <= 0 && *duration <= 0 || *workers < 1 {
		fmt.Fprintln(stderr, "genlfuzz: give -iterations or -duration, and -workers of 1 or more")
		return 2
	}
	keep, err := parseKeep(*keepSpec)
	if err != nil {
		fmt.Fprintf(stderr, "genlfuzz: -keep: %v\n", err)
		return 2
	}
	family, err := resolveFamily()
	if err != nil {
		fmt.Fprintf(stderr, "genlfuzz: %v\n", err)
		return 1
	}
	f := &fuzzer{seed: *seed, iterations: *iterations, keep: keep, keepSpec: *keepSpec, verbose: *verbose, out: stdout,
		deadline: time.Now().Add(100 * 365 * 24 * time.Hour)}
	if *duration > 0 {
		f.deadline = time.Now().Add(*duration)
	}
	f.open = func() (link, error) { return openSock(family, *timeout) }
	return f.runAll(*workers, *churn, family, *timeout)
}

// runAll runs the workers and the churner, then the checks, and prints the
// summary; its result is the exit status.
func (f *fuzzer) runAll(workers int, churn bool, family uint16, timeout time.Duration) int {
	l, err := f.open()
	if err != nil {
		fmt.Fprintf(f.out, "genlfuzz: %v\n", err)
		return 1
	}
	defer l.close()
	t := table{s: l}
	before, err := t.stats()
	if err != nil {
		f.finding(-2, 0, nil, err)
		return 1
	}
	start := time.Now()
	var wg, cg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f.worker(w) })
	}
	if churn {
		cg.Go(func() { f.churn(family, timeout) })
	}
	wg.Wait()
	f.stopped.Store(true)
	cg.Wait()
	elapsed := time.Since(start).Seconds()
	f.checks(t, before.Rewritten)
	n := f.requests.Load()
	fmt.Fprintf(f.out, "genlfuzz: %d requests in %.1f s (%.0f/s), %d kernel errors, %d findings\n",
		n, elapsed, float64(n)/elapsed, f.kernelErrors.Load(), f.findings.Load())
	if f.findings.Load() > 0 {
		if line := f.replay.Load(); line != nil {
			fmt.Fprintf(f.out, "replay: %s\n", *line)
		}
		return 1
	}
	return 0
}

// checks runs the final checks, each printing "check NAME: ok" or a
// FINDING.
func (f *fuzzer) checks(t table, startRewritten uint64) {
	report := func(name string, err error) {
		if err != nil {
			f.finding(-2, 0, nil, fmt.Errorf("check %s: %w", name, err))
			return
		}
		f.printf("check %s: ok\n", name)
	}
	s1, err1 := t.stats()
	d1, err2 := t.dump()
	d2, err3 := t.dump()
	s2, err4 := t.stats()
	if err := firstErr(err1, err2, err3, err4); err != nil {
		report("dump-consistent", err)
		report("counts", err)
	} else {
		report("dump-consistent", dumpConsistent(d1, d2, s1, s2))
		report("counts", countsAddUp(startRewritten, s1, s2, d1, d2))
		f.printf("rewritten: start=%d end=%d entries=%d\n", startRewritten, s2.Rewritten, s2.Entries)
	}
	err := firstErr(t.command(cmdModeSet, attr(attrMode, u8(modeRule))), t.command(cmdMapFlush, nil))
	if err == nil {
		var d []dumpEntry
		var s stats
		if d, err = t.dump(); err == nil {
			if s, err = t.stats(); err == nil {
				err = flushed(d, s)
			}
		}
	}
	report("flush", err)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parseKeep reads -keep's DSCP,VIP.
func parseKeep(s string) (*Key, error) {
	if s == "" {
		return nil, nil
	}
	d, v, ok := strings.Cut(s, ",")
	code, err := strconv.ParseUint(d, 10, 8)
	if !ok || err != nil || code > dscpMax {
		return nil, fmt.Errorf("%q: want DSCP,VIP with a DSCP of 0..63", s)
	}
	vip, err := netip.ParseAddr(v)
	if err != nil || !vip.Is4() {
		return nil, fmt.Errorf("%q: want an IPv4 VIP", s)
	}
	return &Key{DSCP: uint8(code), VIP: vip.As4()}, nil
}

// resolveFamily is the family's id, the same in every namespace.
func resolveFamily() (uint16, error) {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return 0, fmt.Errorf("opening a generic netlink socket: %w", err)
	}
	defer c.Close()
	fam, err := c.GetFamily(familyName)
	if err != nil {
		return 0, fmt.Errorf("resolving the generic netlink family %q (is xt_DADDR loaded?): %w", familyName, err)
	}
	return fam.ID, nil
}
