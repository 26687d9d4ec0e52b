package agent

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier tells the service manager how the agent is: systemd's
// sd_notify protocol (Type=notify, WatchdogSec=). Outside systemd
// (no $NOTIFY_SOCKET) every call does nothing.
type Notifier interface {
	notify(state string) error
	// watchdogInterval is how often to ping the watchdog; 0 when none
	// is asked for.
	watchdogInterval() time.Duration
}

// Systemd is the Notifier of the process's service manager.
type Systemd struct{}

func (Systemd) notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

func (Systemd) watchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d == 0 {
		return 0
	}
	// Half the timeout, as sd_watchdog_enabled(3) advises: one late ping
	// is not a restart.
	return d / 2
}
