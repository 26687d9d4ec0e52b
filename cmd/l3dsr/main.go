// Command l3dsr sets up and verifies L3 Direct Server Return on Linux: the
// xt_DADDR mappings on real servers, IPVS and DSCP marking on directors, and
// on-the-wire checks that replies leave from the VIP.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/l3dsr/l3dsr/internal/cpuprof"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/realserver"
)

// Exit statuses, as every l3dsr command documents them.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
	exitPartial = 3 // verify: a damaged capture file, judged up to the damage
)

// version is set at build time from the VERSION file (see the Makefile).
var version = "dev"

func main() {
	stop, err := cpuprof.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "l3dsr: %v\n", err)
	}
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status, so that tests
// can drive the whole CLI without a subprocess.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(hostSys(), args, stdout, stderr)
}

// runWith is run on the system sys.
func runWith(sys *system, args []string, stdout, stderr io.Writer) int {
	cli := newCLI(sys, stdout, stderr)
	cli.root.SetArgs(args)
	cmd, err := cli.root.ExecuteC()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "l3dsr: %v\n", err)
	var ue *usageError
	// Anything that failed before a command started running (an unknown
	// command or flag, a bad argument count) is a usage error too, and so is
	// a code a DADDR rule l3dsr did not write maps elsewhere (up, apply),
	// and a scheduler the kernel lacks (mh before 4.18): the input asks for
	// what this host cannot do.
	if errors.As(err, &ue) || !cli.started || errors.Is(err, realserver.ErrRuleClash) ||
		errors.Is(err, realserver.ErrHostInput) || errors.Is(err, ipvs.ErrNoScheduler) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	// A command with a status of its own (verify's "partial").
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitRuntime
}
