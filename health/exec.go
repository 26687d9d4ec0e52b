package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// waitDelay bounds how long a probe waits, after its command ended or was
// killed, for a descendant that left the process group and holds stderr.
const waitDelay = 100 * time.Millisecond

// probeExec runs s.Command, keepalived's MISC_CHECK: exit status 0 is up.
// The command runs in a process group of its own, so that the timeout
// kills what it started too.
func probeExec(ctx context.Context, s Spec, t Target) error {
	if len(s.Command) == 0 {
		return errors.New("no command to run: give exec's command")
	}
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	cmd.Env = append(os.Environ(),
		"L3DSR_VIP="+t.Service.Addr().String(),
		"L3DSR_PORT="+strconv.Itoa(int(t.Service.Port())),
		"L3DSR_REAL="+t.Real.String(),
		"L3DSR_PROTO="+t.Proto.String(),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return os.ErrProcessDone
	}
	cmd.WaitDelay = waitDelay
	var stderr tail
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: still running, killed with its process group: %w", s.Command[0], err)
	} else {
		err = fmt.Errorf("%s: %w", s.Command[0], err)
	}
	if l := stderr.lastLine(); l != "" {
		err = fmt.Errorf("%w: %s", err, l)
	}
	return err
}
