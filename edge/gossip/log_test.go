package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestParseLogLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		level slog.Level
		msg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", slog.LevelDebug, "Stream connection from=127.0.0.1:1"},
		{"[INFO] memberlist: Marking n1 as failed\n", slog.LevelDebug, "Marking n1 as failed"},
		{"[WARN] memberlist: Refuting a suspect message (from: n2)\n", slog.LevelWarn, "Refuting a suspect message (from: n2)"},
		{"[ERR] memberlist: Failed to send ping: boom\n", slog.LevelWarn, "Failed to send ping: boom"},
		{"[ERR] memberlist: Failed fallback TCP ping: dial tcp 127.0.0.1:9: connect: connection refused\n", slog.LevelWarn, "Failed fallback TCP ping: dial tcp 127.0.0.1:9: connect: connection refused"},
		{"[ERR] memberlist: Push/Pull with n2 failed: EOF\n", slog.LevelWarn, "Push/Pull with n2 failed: EOF"},
		{"[ERR] memberlist: Failed to decode ping: bad\n", slog.LevelError, "Failed to decode ping: bad"},
		{"[ERROR] memberlist: failed to receive: x\n", slog.LevelError, "failed to receive: x"},
		{"[ERR] Failed to shutdown transport: x", slog.LevelError, "Failed to shutdown transport: x"},
		{"no prefix\n", slog.LevelInfo, "no prefix"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			level, msg := parseLogLine(tc.line)
			if level != tc.level || msg != tc.msg {
				t.Errorf("parseLogLine = %v, %q; want %v, %q", level, msg, tc.level, tc.msg)
			}
		})
	}
}

func TestMemberlistLogger(t *testing.T) {
	var buf bytes.Buffer
	l := memberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Printf("[INFO] memberlist: chatty")
	l.Printf("[WARN] memberlist: careful %d", 7)
	out := buf.String()
	if strings.Contains(out, "chatty") {
		t.Errorf("INFO not demoted: %s", out)
	}
	if !strings.Contains(out, `level=WARN msg="careful 7" src=memberlist`) {
		t.Errorf("WARN line missing: %s", out)
	}
}
