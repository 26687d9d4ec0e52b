package main

import (
	"os"
	"time"

	"github.com/l3dsr/l3dsr/director"

	"github.com/l3dsr/l3dsr/internal/gendocs"
	"github.com/l3dsr/l3dsr/internal/hostcheck"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/spf13/cobra"
)

// hostError turns an error of opening or reading the running state into the
// answer for the missing piece it shows (hostcheck.Explain).
func hostError(err error) error { return hostcheck.Explain(err, maptable.ErrNotLoaded) }

// needNetAdmin is called by the openers before they touch the host.
func (s *system) needNetAdmin() error {
	if !s.hasNetAdmin() {
		return hostcheck.ErrNeedRoot
	}
	return nil
}

// hostSystem is the part of system the director, real-server, apply, save
// and gen-docs commands act on.
type hostSystem struct {
	openDirector   func() (directorAPI, func() error, error)
	openRealServer func() (rsManager, error) // after the command line is checked
	// ipvsLoaded tells whether IPVS can have services at all; save does not
	// load ip_vs (as opening the director would) on a host that is no
	// director.
	ipvsLoaded func() bool
	// writeDocs: tests fuzzing the command line must not write where a
	// mutated flag points.
	writeDocs func(root *cobra.Command, manDir, complDir string) error
	// drainEvery is how often drain --wait polls (tests poll faster).
	drainEvery time.Duration
	// drained reads and holds the drained reals that apply keeps at
	// weight 0, until release.
	drained func() (_ director.Drained, release func(), _ error)
}

// hostHostSystem opens the host's pieces once need (the CAP_NET_ADMIN
// check) allows it.
func hostHostSystem(need func() error) hostSystem {
	return hostSystem{
		openDirector:   func() (directorAPI, func() error, error) { return openDirector(need) },
		openRealServer: func() (rsManager, error) { return openRealServer(need) },
		ipvsLoaded: func() bool {
			_, err := os.Stat("/proc/net/ip_vs")
			return err == nil
		},
		writeDocs: func(root *cobra.Command, manDir, complDir string) error {
			return gendocs.Write(root, manDir, complDir, version)
		},
		drainEvery: time.Second,
		drained:    director.HoldDrained,
	}
}

func hostRuleSystem(need func() error) ruleSystem {
	return ruleSystem{
		dialTable: func() (maptable.Table, error) {
			if err := need(); err != nil {
				return nil, err
			}
			return maptable.Dial()
		},
		newRules: func(v xtrule.Variant) mapRules { return &xtrule.Rules{Variant: v} },
		ensureBPF: func() ([]string, error) {
			m, err := openRealServer(need)
			if err != nil {
				return nil, err
			}
			defer m.Close()
			return m.EnsureBPF()
		},
		stdin: os.Stdin,
	}
}

func hostVerifySystem() verifySystem {
	return verifySystem{dialVerifyTable: func() (verifyTable, error) { return maptable.Dial() }}
}
