package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// slogLogger hands GoBGP's log lines to the agent's logger, so that the
// speaker's messages land where the agent's do, at the same levels, with
// GoBGP's fields as attributes.
type slogLogger struct {
	l *slog.Logger
}

func (g slogLogger) log(level slog.Level, msg string, fields gobgplog.Fields) {
	ctx := context.Background()
	if !g.l.Enabled(ctx, level) {
		return
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	// Sorted, so that the same event always reads the same.
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, fields[k]))
	}
	g.l.LogAttrs(ctx, level, msg, attrs...)
}

// Panic and Fatal are GoBGP's "code logic bug" paths. logrus would panic or
// exit; a library must not exit the agent's process, and going on after a
// broken invariant is worse than a crash, so both log and panic.
func (g slogLogger) Panic(msg string, fields gobgplog.Fields) {
	g.log(slog.LevelError, msg, fields)
	panic(fmt.Sprintf("gobgp: %s %v", msg, fields))
}

func (g slogLogger) Fatal(msg string, fields gobgplog.Fields) {
	g.log(slog.LevelError, msg, fields)
	panic(fmt.Sprintf("gobgp: %s %v", msg, fields))
}

func (g slogLogger) Error(msg string, fields gobgplog.Fields) {
	g.log(slog.LevelError, msg, fields)
}

func (g slogLogger) Warn(msg string, fields gobgplog.Fields) {
	g.log(slog.LevelWarn, msg, fields)
}

func (g slogLogger) Info(msg string, fields gobgplog.Fields) {
	g.log(slog.LevelInfo, msg, fields)
}

func (g slogLogger) Debug(msg string, fields gobgplog.Fields) {
	g.log(slog.LevelDebug, msg, fields)
}

// SetLevel is ignored: the slog handler's level is the one that decides.
func (g slogLogger) SetLevel(gobgplog.LogLevel) {}

// GetLevel tells GoBGP whether debug is on, because it formats whole
// messages for debug lines only when it is.
func (g slogLogger) GetLevel() gobgplog.LogLevel {
	ctx := context.Background()
	switch {
	case g.l.Enabled(ctx, slog.LevelDebug):
		return gobgplog.DebugLevel
	case g.l.Enabled(ctx, slog.LevelInfo):
		return gobgplog.InfoLevel
	case g.l.Enabled(ctx, slog.LevelWarn):
		return gobgplog.WarnLevel
	default:
		return gobgplog.ErrorLevel
	}
}
