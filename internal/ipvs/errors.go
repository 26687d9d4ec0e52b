package ipvs

import (
	"errors"
	"fmt"

	"github.com/l3dsr/l3dsr/internal/nl"
	"golang.org/x/sys/unix"
)

// ErrNotAvailable is matched (errors.Is) by the error of New and
// newInNetNS when the kernel has no "IPVS" generic netlink family: the
// family exists only while the ip_vs module is loaded.
var ErrNotAvailable = errors.New("IPVS not available: load the ip_vs module (modprobe ip_vs)")

// ErrNotFound is matched (errors.Is) by the error of an operation on a
// service or destination that does not exist.
var ErrNotFound = errors.New("not found")

// ErrNoScheduler is matched (errors.Is) by the error of a service create or
// update whose scheduler (or persistence engine) the kernel could not find
// or load: mh before Linux 4.18, or a module the kernel was built without.
// It is the file's or the command line's error, not the host's.
var ErrNoScheduler = errors.New("scheduler not available")

// ErrExists is matched (errors.Is) by the error of a create whose service
// or destination already exists.
var ErrExists = errors.New("exists")

// opError is the error of a request the kernel refused (then it wraps an
// *nl.KernelError, and so the kernel's errno: errors.Is(err,
// unix.EINVAL)), or that could not be sent.
type opError struct {
	// op says what was being done, e.g. "create service tcp 10.0.0.1:80".
	op    string
	cause error
}

func (e *opError) Error() string {
	if ke, ok := e.cause.(*nl.KernelError); ok {
		text := ke.Says()
		if ke.Message != "" {
			text += ": " + ke.Message
		}
		return "ipvs: " + e.op + ": " + text
	}
	return "ipvs: " + e.op + ": " + e.cause.Error()
}

// Unwrap returns the kernel's refusal, or the error of sending.
func (e *opError) Unwrap() error { return e.cause }

// errnoMeaning says, per errno, what the kernel's answer to an operation
// means: the text to show and the kind to match.
type errnoMeaning map[unix.Errno]meaning

type meaning struct {
	text string
	kind error
}

// wrap turns the error of a request into an *opError for op, with the
// meaning m gives the kernel's errno. Errors that carry no errno are
// wrapped as they are.
func wrap(op string, err error, m errnoMeaning) error {
	ke := nl.Kernel(err)
	if ke == nil {
		return &opError{op: op, cause: err}
	}
	if mm, ok := m[ke.Errno]; ok {
		ke.Text, ke.Kind = mm.text, mm.kind
	}
	switch ke.Errno {
	case unix.EPERM, unix.EACCES:
		ke.Text = ke.Says() + " (IPVS needs CAP_NET_ADMIN in the network namespace: run as root)"
	}
	return &opError{op: op, cause: ke}
}

// The kernel's answers: ESRCH for a service that does not exist (ENOENT is
// taken by the scheduler lookup), ENOENT for a destination that does not,
// EEXIST for either when it does.
var (
	svcNotFound  = errnoMeaning{unix.ESRCH: {"not found", ErrNotFound}}
	svcCreate    = errnoMeaning{unix.EEXIST: {"exists", ErrExists}}
	destNotFound = errnoMeaning{
		unix.ESRCH:  {"service not found", ErrNotFound},
		unix.ENOENT: {"not found", ErrNotFound},
	}
	destCreate = errnoMeaning{
		unix.ESRCH:  {"service not found", ErrNotFound},
		unix.EEXIST: {"exists", ErrExists},
	}
)

// schedMeaning adds, for a service create or update, the meaning of ENOENT:
// the kernel could not find (or load) the scheduler or persistence engine.
func schedMeaning(base errnoMeaning, s Service) errnoMeaning {
	m := errnoMeaning{}
	for k, v := range base {
		m[k] = v
	}
	text := fmt.Sprintf("scheduler %q is not available: load it with 'modprobe ip_vs_%s', or check the name", s.Scheduler, s.Scheduler)
	if s.PEName != "" {
		text = fmt.Sprintf("scheduler %q or persistence engine %q is not available: load them with 'modprobe -a ip_vs_%s ip_vs_pe_%s', or check the names", s.Scheduler, s.PEName, s.Scheduler, s.PEName)
	}
	m[unix.ENOENT] = meaning{text, ErrNoScheduler}
	return m
}
