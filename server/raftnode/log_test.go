package raftnode

import (
	"bytes"
	"fmt"
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

// Pebble's lines (through the standard log package) become structured
// warnings, and a flush retried in a loop, each time with a new file name,
// is reported once per period.
func TestPebbleLinesRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := &stdLog{l: l, min: slog.LevelWarn, limit: &rateLimit{every: time.Hour, last: map[string]time.Time{}}}
	for i := range 1000 {
		fmt.Fprintf(w, "background error: open /data/logdb-0/%06d.sst: no space left on device\n", 83336+i)
	}
	fmt.Fprintf(w, "write /data/logdb-0/000008.log: no space left on device\n")
	out := buf.String()
	if n := strings.Count(out, "background error"); n != 1 {
		t.Fatalf("%d flush errors logged, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN msg=\"write /data/logdb-0/000008.log: no space left on device\"") {
		t.Fatalf("the WAL error is not a warning of its own:\n%s", out)
	}
}
