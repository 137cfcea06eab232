package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"meridian/server/raftnode"
)

// newLogger builds the process logger: text lines on stderr at level.
// Dependencies' logs (dragonboat) go through it at warn or above.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info", "":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	l := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
	raftnode.RouteLogs(l, max(lv, slog.LevelWarn))
	return l, nil
}
