package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main runs the agent as a service manager runs it: SIGTERM (and SIGINT)
// stop it, SIGHUP reloads the file.
func Main(ctx context.Context, o Options) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				// One pending reload is enough: it reads the newest file.
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return run(ctx, o, reload)
}

// NewLogger returns the agent's structured log on w: "text" (logfmt, which
// the journal shows as it is) or "json".
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, &ConfigError{fmt.Errorf("--log-format %q: use text or json", format)}
}
