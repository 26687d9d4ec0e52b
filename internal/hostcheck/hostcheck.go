// Package hostcheck says what is missing on a host when opening or reading
// its running state fails: root, IPVS, a kernel module, or a dump the
// kernel cut short. Each answer is one line that names the piece and the
// fix; the CLI prints it.
package hostcheck

import (
	"errors"
	"strings"

	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The one-line answers for a host piece that is missing. Each names the
// piece and the fix.
const (
	MsgNeedRoot    = "reading the running state needs root (or CAP_NET_ADMIN): run with sudo"
	MsgNoIPVS      = "IPVS is not available: load the ip_vs module with 'modprobe ip_vs' (if modprobe cannot find it, install the modules package of the running kernel)"
	MsgNoModule    = "the l3dsr kernel module is not loaded: run 'modprobe xt_DADDR' (install the l3dsr-dkms package if modprobe cannot find it); a host without the module can use the tc-BPF backend instead: run 'l3dsr realserver up --backend bpf'"
	MsgInterrupted = "reading the running state was interrupted by the kernel: run the command again"
)

// ErrNeedRoot is the answer of the openers when this process lacks
// CAP_NET_ADMIN: asking first gives one clear line, where the kernel would
// answer some requests and refuse others (an unprivileged dump of an empty
// state succeeds, and a plan made from it would be wrong).
var ErrNeedRoot = errors.New(MsgNeedRoot)

// HasNetAdmin tells whether this process has CAP_NET_ADMIN (root has it).
func HasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		// Cannot tell: let the kernel decide, request by request.
		return true
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
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

// Explain turns an error of opening or reading the running state into the
// answer for the missing piece it shows; any other error is returned as it
// is. nil stays nil. notLoaded is the error of the table backend whose
// kernel module is missing (this package sits below the backends).
func Explain(err, notLoaded error) error {
	var se *stateError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNeedRoot):
		// The openers' answer is the whole story; "director: " before it
		// would add nothing.
		return ErrNeedRoot
	case errors.As(err, &se):
		return se
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &stateError{MsgNeedRoot, err, true}
	case errors.Is(err, ipvs.ErrNotAvailable):
		return &stateError{MsgNoIPVS, err, false}
	case errors.Is(err, notLoaded):
		return &stateError{MsgNoModule, err, false}
	case interrupted(err):
		return &stateError{MsgInterrupted, err, true}
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
