package main

import (
	"fmt"
	"io"

	"github.com/l3dsr/l3dsr/internal/hostcheck"
	"github.com/spf13/cobra"
)

// usageError marks an error caused by the command line itself (exit 2),
// as opposed to one met while doing the work (exit 1).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf makes a usage error (exit 2) from a message that names the bad
// value and the fix.
func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

type cli struct {
	root *cobra.Command
	sys  *system
	// started is set once cobra has parsed the flags and validated the
	// arguments of a command and is about to run it.
	started bool
}

func newCLI(sys *system, stdout, stderr io.Writer) *cli {
	c := &cli{sys: sys}
	c.root = &cobra.Command{
		Use:   "l3dsr",
		Short: "L3 Direct Server Return for Linux IPVS directors and real servers",
		Long: `l3dsr sets up L3 Direct Server Return: a director rewrites a client's packet to a
real server's own address and marks it with a DSCP code that stands for the VIP;
the real server's xt_DADDR target puts the VIP back, and the reply goes straight
to the client from the VIP.

Exit status: 0 ok, 1 runtime failure, 2 usage error.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(*cobra.Command, []string) {
			c.started = true
		},
	}
	c.root.SetOut(stdout)
	c.root.SetErr(stderr)
	c.root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err}
	})
	c.root.AddCommand(newVersionCmd())
	c.root.AddCommand(newRuleCmd(sys))
	c.root.AddCommand(newRealServerCmd(sys))
	c.root.AddCommand(newVerifyCmd(sys))
	c.root.AddCommand(newDirectorCmd(sys))
	c.root.AddCommand(newGenDocsCmd(sys))
	c.root.AddCommand(newApplyCmd(sys))
	c.root.AddCommand(newSaveCmd(sys))
	c.root.AddCommand(newDoctorCmd(sys))
	c.root.AddCommand(newAgentCmd(sys))
	return c
}

// system is what the commands act on: the kernel's tables, iptables, IPVS,
// capture. run gives the host's; tests give fakes. Each part is declared
// beside the commands that use it.
type system struct {
	ruleSystem   // rule*.go
	verifySystem // verify*.go
	hostSystem   // director*, realserver*, apply, save
	doctorSystem // doctor.go
	// hasNetAdmin tells whether this process has CAP_NET_ADMIN, which the
	// openers ask first (needNetAdmin).
	hasNetAdmin func() bool
	// agentState is the agent's health record that 'director show' reads
	// ("": this network namespace's).
	agentState string
}

// hostSys is the running host.
func hostSys() *system {
	s := &system{verifySystem: hostVerifySystem(), hasNetAdmin: hostcheck.HasNetAdmin}
	s.ruleSystem, s.hostSystem = hostRuleSystem(s.needNetAdmin), hostHostSystem(s.needNetAdmin)
	s.doctorSystem = hostDoctorSystem(s.needNetAdmin)
	return s
}
