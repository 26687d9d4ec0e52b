package main

import (
	"errors"
	"log/slog"
	"net"

	"github.com/l3dsr/l3dsr/agent"
	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/internal/probe"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/spf13/cobra"
)

func newAgentCmd(sys *system) *cobra.Command {
	var file, state, format string
	cmd := &cobra.Command{
		Use:   "agent [-f FILE]",
		Short: "Keep this host at the config file: apply, repair drift, health-check the reals, serve metrics",
		Long: `agent runs until it is stopped (l3dsr-agent.service, Type=notify). It applies
the config file as 'l3dsr apply' does, again on SIGHUP (systemctl reload), and
every repair_interval repairs drift (a VIP, mark or rule removed by hand),
logging each change. On a director it runs each service's health check
against every real, along the DSR path for dscp and ipip services, quiesces
(or removes) a real that fails 'fall' checks in a row and gives its weight
back after 'rise' good ones, and puts the service's sorry real in when every
real is down. It serves Prometheus metrics on the agent section's address.
SIGTERM leaves the data path as it is unless the file says on_stop: teardown.
See docs/agent.md.

Exit status: 0 stopped, 1 runtime failure, 2 a file or metrics address in
error (nothing was changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := agent.NewLogger(cmd.ErrOrStderr(), format)
			if err == nil {
				err = agent.Main(cmd.Context(), sys.agentOptions(file, state, log))
			}
			var ce *agent.ConfigError
			if errors.As(err, &ce) {
				return &usageError{err}
			}
			return hostError(err)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", config.DefaultPath, "the config file")
	cmd.Flags().StringVar(&state, "state", "", "where the agent keeps what its health checks did (default /run/l3dsr/netns-INODE/agent.json)")
	cmd.Flags().StringVar(&format, "log-format", "text", "log records as text or json (to stderr: the journal)")
	return cmd
}

func (s *system) agentOptions(file, state string, log *slog.Logger) agent.Options {
	return agent.Options{
		File: file, StateFile: state, Log: log, Host: s.configHost(),
		Notifier: agent.Systemd{}, Listen: net.Listen, Backend: maptable.BackendName, BPFLinks: true,
		StartBGP: agent.StartSpeaker, OpenRelay: agent.OpenRelay,
		Probes: func() (agent.ProbePaths, func() error, error) { return probe.Open() },
		Table:  func() ([]maptable.Entry, maptable.Stats, error) { return maptable.Snapshot(s.dialTable) },
	}
}
