package gossip

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
)

// memberlistLogger returns a *log.Logger, as memberlist wants, that routes
// each line to l at the level its prefix names. memberlist is chatty, so its
// INFO lines are demoted to debug, and its errors about a peer it cannot
// reach to warnings.
func memberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

type logWriter struct{ l *slog.Logger }

var _ io.Writer = logWriter{}

// Write takes one line: log.Logger writes each message in one call.
func (w logWriter) Write(b []byte) (int, error) {
	level, msg := parseLogLine(string(b))
	ctx := context.Background()
	if w.l.Enabled(ctx, level) {
		w.l.Log(ctx, level, msg, "src", "memberlist")
	}
	return len(b), nil
}

// parseLogLine maps "[WARN] memberlist: text\n" to (slog.LevelWarn, "text").
// Lines without a known prefix are logged at info.
func parseLogLine(line string) (slog.Level, string) {
	line = strings.TrimSpace(line)
	level := slog.LevelInfo
	for _, p := range []struct {
		prefix string
		level  slog.Level
	}{
		{"[DEBUG]", slog.LevelDebug},
		{"[INFO]", slog.LevelDebug},
		{"[WARN]", slog.LevelWarn},
		{"[ERR]", slog.LevelError},
		{"[ERROR]", slog.LevelError},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			level, line = p.level, strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if level == slog.LevelError && peerUnreachable(line) {
		level = slog.LevelWarn
	}
	return level, line
}

// peerUnreachable reports the errors memberlist logs when it cannot reach
// another member. A member down or cut off is what gossip is there to
// detect (the pool reports it as suspect, then failed), not a fault of this
// node, so these lines are warnings, not errors that page someone during
// every outage of a peer.
func peerUnreachable(msg string) bool {
	for _, p := range []string{
		"Failed fallback TCP ping:",
		"Failed to send gossip to ",
		"Push/Pull with ",
		"Failed to send ping:",
		"Failed to send indirect ping:",
		"Failed to forward ack:",
		"Failed to send nack:",
	} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
