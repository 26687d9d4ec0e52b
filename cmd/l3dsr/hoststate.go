package main

import (
	"errors"
	"os"
	"strings"

	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/mdlayher/netlink"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// The one-line answers for a host piece that is missing. Each names the
// piece and the fix.
const (
	msgNeedRoot    = "reading the running state needs root (or CAP_NET_ADMIN): run with sudo"
	msgNoIPVS      = "IPVS is not available: load the ip_vs module with 'modprobe ip_vs' (if modprobe cannot find it, install the modules package of the running kernel)"
	msgNoModule    = "the l3dsr kernel module is not loaded: run 'modprobe xt_DADDR' (install the l3dsr-dkms package if modprobe cannot find it)"
	msgInterrupted = "reading the running state was interrupted by the kernel: run the command again"
)

// errNeedRoot is the answer of the openers when this process lacks
// CAP_NET_ADMIN: asking first gives one clear line, where the kernel would
// answer some requests and refuse others (an unprivileged dump of an empty
// state succeeds, and a plan made from it would be wrong).
var errNeedRoot = errors.New(msgNeedRoot)

// hasNetAdmin tells whether this process has CAP_NET_ADMIN (root has it).
// Tests replace it.
var hasNetAdmin = func() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		// Cannot tell: let the kernel decide, request by request.
		return true
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// needNetAdmin is called by the openers before they touch the host.
func needNetAdmin() error {
	if !hasNetAdmin() {
		return errNeedRoot
	}
	return nil
}

// stateError is an error met while opening or reading the running state,
// said as the missing piece and its fix.
type stateError struct {
	msg   string
	cause error
	// detail: the cause is added in parentheses, to say which request the
	// kernel refused or cut short. A missing module's cause says no more
	// than msg.
	detail bool
}

func (e *stateError) Error() string {
	if !e.detail {
		return e.msg
	}
	// Kernel or command text in the cause must not break the one line.
	return e.msg + " (" + strings.Join(strings.Fields(e.cause.Error()), " ") + ")"
}

func (e *stateError) Unwrap() error { return e.cause }

// hostError turns an error of opening or reading the running state into the
// answer for the missing piece it shows; any other error is returned as it
// is. nil stays nil.
func hostError(err error) error {
	var se *stateError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNeedRoot):
		// The openers' answer is the whole story; "director: " before it
		// would add nothing.
		return errNeedRoot
	case errors.As(err, &se):
		return se
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &stateError{msgNeedRoot, err, true}
	case errors.Is(err, ipvs.ErrNotAvailable):
		return &stateError{msgNoIPVS, err, false}
	case errors.Is(err, maptable.ErrNotLoaded):
		return &stateError{msgNoModule, err, false}
	case interrupted(err):
		return &stateError{msgInterrupted, err, true}
	}
	return err
}

// interrupted tells whether a netlink dump was cut short by the kernel
// (its socket buffer overran, or the dump was interrupted by a change):
// running again is the fix.
func interrupted(err error) bool {
	var oe *netlink.OpError
	if !errors.As(err, &oe) {
		return false
	}
	for _, e := range []error{unix.ENOBUFS, unix.EINTR, unix.EAGAIN, unix.EBUSY} {
		if errors.Is(oe.Err, e) {
			return true
		}
	}
	return false
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
}

func hostHostSystem() hostSystem {
	return hostSystem{
		openDirector:   openDirector,
		openRealServer: func() (rsManager, error) { return openRealServer() },
		ipvsLoaded: func() bool {
			_, err := os.Stat("/proc/net/ip_vs")
			return err == nil
		},
		writeDocs: writeDocs,
	}
}
