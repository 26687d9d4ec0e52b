package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/internal/bgp"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/metrics"
)

// Options is what the agent acts on: the CLI gives the host's, tests fakes.
type Options struct {
	// File is the config file.
	File string
	// Host is what apply plans and changes.
	Host config.Host
	// Probes opens the DSR path of the probes (internal/probe); nil
	// refuses a file with DSR-path checks.
	Probes func() (ProbePaths, func() error, error)
	// Table reads the real server's table for the metrics; nil on a host
	// without one.
	Table func() ([]maptable.Entry, maptable.Stats, error)
	// Backend names the table's backend in the metrics at scrape time
	// (maptable.BackendName).
	Backend func() string
	// StateFile is where the agent keeps what it did; "" is agent.json in
	// this network namespace's state directory (/run/l3dsr/netns-INODE).
	StateFile string
	Notifier  Notifier
	Log       *slog.Logger
	// Listen opens the metrics listener (net.Listen).
	Listen func(network, addr string) (net.Listener, error)
	// BPFLinks keeps the tc-BPF program attached to the real server's
	// links, new ones included, when this namespace has that backend
	// (links.go); tests leave it false, the host's agent sets it.
	BPFLinks bool
	// StartBGP starts the BGP speaker of the file's bgp section (the CLI
	// gives bgp.Start's); nil refuses a file with one.
	StartBGP func(ctx context.Context, c bgp.Config) (Speaker, error)
	// OpenRelay opens the ICMP relay's sockets in this network namespace
	// (icmprelay.Open); nil leaves icmp_relay off.
	OpenRelay func() (Relay, error)
}

// ConfigError is an error of the file or of the command line, found before
// anything was changed (the CLI's exit 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// runner is one run of the agent.
type runner struct {
	o        Options
	log      *slog.Logger
	file     *config.File
	settings config.Agent
	reg      *metrics.Registry
	checks   *checks
	events   *queue
	// links is nil unless Options.BPFLinks and the file has a real server;
	// linkEvents has a value after a link event.
	links      *linkKeeper
	linkEvents <-chan struct{}
	// bgp is nil without a bgp section.
	bgp *announcer
	// relay is nil unless icmp_relay is on, on a director.
	relay *relayer
}

// run loads the file, applies it, starts the checks and the metrics, tells
// the service manager it is ready, and then keeps the host at the file
// until ctx ends. A value on reload reloads the file. An error before the
// first apply changed anything is a *ConfigError.
func run(ctx context.Context, o Options, reload <-chan struct{}) error {
	a := &runner{o: o, log: o.Log, events: newQueue()}
	f, err := config.Load(o.File)
	if err != nil {
		return &ConfigError{err}
	}
	a.file, a.settings = f, f.Agent()
	if c := a.settings.BGP; c != nil && o.StartBGP == nil {
		return &ConfigError{fmt.Errorf("%s: bgp: this build of the agent cannot start a BGP speaker: remove the bgp section", c.Pos)}
	}
	ln, err := a.listen()
	if err != nil {
		return err
	}
	a.reg = metrics.New(a.sources())
	a.checks, err = newChecks(a, o.StateFile)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	srv := a.serve(ln)
	err = a.start(ctx)
	if err == nil {
		err = a.startBGP(ctx)
	}
	if err == nil {
		err = a.startRelay(ctx)
	}
	if err != nil {
		a.stopBGP()
		a.stopServing(srv)
		a.checks.close()
		return err
	}
	a.keepLinks(ctx)
	_ = o.Notifier.notify(daemon.SdNotifyReady + "\nSTATUS=" + a.status())
	err = a.loop(ctx, reload)
	_ = o.Notifier.notify(daemon.SdNotifyStopping)
	// IPVS forwards until the routers have moved the flows elsewhere.
	a.stopBGP()
	// After the withdraw delay: the flows still coming in it still need
	// their ICMP.
	a.relay.stop()
	a.checks.close()
	a.stopServing(srv)
	if a.settings.Teardown {
		err = errors.Join(err, a.teardown())
	} else {
		a.log.Info("stopped; the data path is left as it is (on_stop: keep)")
	}
	return err
}

// listen opens the metrics listener first: an address in use is the file's
// error, found before anything changes.
func (a *runner) listen() (net.Listener, error) {
	addr := a.settings.Metrics
	if addr == "" {
		return nil, nil
	}
	ln, err := a.o.Listen("tcp", addr)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("%s: metrics address %s: %w: give another with 'metrics: HOST:PORT', or 'metrics: off'", a.settings.MetricsPos, addr, err)}
	}
	return ln, nil
}

func (a *runner) serve(ln net.Listener) *http.Server {
	if ln == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.reg.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics server stopped", "err", err)
		}
	}()
	a.log.Info("serving metrics", "address", ln.Addr().String(), "path", "/metrics")
	return srv
}

func (a *runner) stopServing(srv *http.Server) {
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// start applies the file and starts its checks.
func (a *runner) start(ctx context.Context) error {
	if _, err := a.apply(ctx, false); err != nil {
		// The file asks for a scheduler this kernel lacks: exit 2, so that
		// systemd does not restart into the same refusal.
		if errors.Is(err, ipvs.ErrNoScheduler) {
			return &ConfigError{err}
		}
		return err
	}
	return a.checks.set(a.file)
}

func (a *runner) loop(ctx context.Context, reload <-chan struct{}) error {
	repair := time.NewTicker(a.settings.RepairInterval)
	defer repair.Stop()
	// The loop itself pings the watchdog: a loop that hangs stops the
	// pings, and systemd restarts the agent.
	var ping <-chan time.Time
	if iv := a.o.Notifier.watchdogInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		ping = t.C
	}
	var maint <-chan time.Time
	if a.bgp != nil {
		t := time.NewTicker(maintenancePoll)
		defer t.Stop()
		maint = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping:
			_ = a.o.Notifier.notify(daemon.SdNotifyWatchdog)
		case <-reload:
			a.reload(ctx)
			repair.Reset(a.settings.RepairInterval)
		case <-repair.C:
			a.repair(ctx)
			a.links.reconcile(ctx, "repair")
			a.bgp.sync(ctx)
		case <-maint:
			a.bgp.poll(ctx)
		case <-a.linkEvents:
			a.links.reconcile(ctx, "link event")
		case <-a.events.ready:
			for _, ev := range a.events.take() {
				a.checks.react(ctx, ev)
			}
			a.bgp.sync(ctx)
		}
	}
}

// reload reads the file again and applies it whole; a file with errors is
// logged and the agent keeps the one it has.
func (a *runner) reload(ctx context.Context) {
	_ = a.o.Notifier.notify(daemon.SdNotifyReloading)
	defer func() { _ = a.o.Notifier.notify(daemon.SdNotifyReady + "\nSTATUS=" + a.status()) }()
	f, err := config.Load(a.o.File)
	if err != nil {
		a.reg.Agent.Error()
		a.log.Error("reload: the file has errors; keeping the one loaded before", "file", a.o.File, "err", err)
		return
	}
	old := a.file
	a.file = f
	if _, err := a.apply(ctx, false); err != nil {
		a.file = old
		return
	}
	keep := a.settings
	a.settings = f.Agent()
	if a.settings.Metrics != keep.Metrics {
		a.log.Warn("reload: the metrics address changes only at a restart", "running", keep.Metrics, "file", a.settings.Metrics)
		a.settings.Metrics = keep.Metrics
	}
	if err := a.checks.set(f); err != nil {
		a.reg.Agent.Error()
		a.log.Error("reload: the health checks", "err", err)
	}
	// After the checks: a real new in the file is not serving until its
	// check shows it up.
	a.settings.BGP = a.reloadBGP(ctx, a.settings.BGP)
	a.log.Info("reloaded", "file", a.o.File)
}

// repair applies the file again, keeping the running weights, so that only
// drift is changed: what someone removed or changed by hand.
func (a *runner) repair(ctx context.Context) {
	n, err := a.apply(ctx, true)
	if err == nil && n > 0 {
		a.reg.Agent.Repaired(n)
	}
}

func (a *runner) status() string {
	n := len(a.checks.jobs)
	return fmt.Sprintf("%d reals checked", n)
}

// sources are the roles the file gives this host: a director without a
// real-server section has no table to read (and maybe no module), and each
// scrape would count an error.
func (a *runner) sources() metrics.Sources {
	src := metrics.Sources{Log: a.log}
	if _, ok := a.file.DirectorServices(); ok {
		src.Director = a.showDirector
	}
	if _, ok := a.file.RealServerUnits(); ok {
		src.Table, src.Backend = a.o.Table, a.o.Backend
	}
	src.BGP, src.ICMPRelay = a.settings.BGP != nil, a.settings.ICMPRelay
	return src
}
