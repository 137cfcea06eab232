package raftnode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestTransportLogsRateLimited: a peer that stays unreachable is reported
// once per period, as a warning, not at every reconnect as an error.
func TestTransportLogsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a := &slogAdapter{l: l, min: slog.LevelWarn, limit: &rateLimit{every: time.Hour, last: map[string]time.Time{}}}
	for range 5 {
		a.Errorf("failed to get a connection to %s", "127.0.0.1:1")
		a.Warningf("breaker %s failed", "127.0.0.1:1")
	}
	out := buf.String()
	if n := strings.Count(out, "failed to get a connection"); n != 1 {
		t.Fatalf("%d connection errors logged, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "breaker"); n != 1 {
		t.Fatalf("%d breaker warnings logged, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "level=ERROR") {
		t.Fatalf("transport trouble logged as an error:\n%s", out)
	}
}
