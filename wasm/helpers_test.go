package wasm

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testLogger sends records to t.Log and keeps them for assertions.
type testLogger struct {
	t    testing.TB
	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (l *testLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.done {
		l.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestLogger(t testing.TB) (*slog.Logger, *testLogger) {
	tl := &testLogger{t: t}
	t.Cleanup(func() { tl.mu.Lock(); tl.done = true; tl.mu.Unlock() })
	return slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelDebug})), tl
}

// newRuntime starts a Runtime closed at the end of the test.
func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger, _ = newTestLogger(t)
	}
	rt, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func guest(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t testing.TB, rt *Runtime, name string) *Module {
	t.Helper()
	m, err := rt.Load(context.Background(), guest(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return m
}
