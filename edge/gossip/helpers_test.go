package gossip

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/integration/freeport"
)

var debugLogs = flag.Bool("gossip.debug", false, "print the debug logs (memberlist's included) of passing tests too")

// TestMain checks that the tests leave no goroutine behind: memberlist needs
// a moment after Close for its own goroutines to end.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine leaves its own goroutines (signal handling).
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	if code == 0 && !fuzzing {
		if err := waitGoroutines(base, 15*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// waitGoroutines waits until at most n goroutines run, or fails with a dump
// of those that do.
func waitGoroutines(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger keeps debug logs (memberlist's included) in memory and prints
// them if the test fails, or with -gossip.debug. memberlist may still log
// from its goroutines after Close returns: those lines are dropped.
func testLogger(t testing.TB) *slog.Logger {
	w := &memWriter{}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
		if t.Failed() || *debugLogs {
			t.Logf("logs:\n%s", w.buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type memWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.buf.Write(b)
	}
	return len(b), nil
}

// recorder keeps the events a pool delivers.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// find returns the last event of kind about member name.
func (r *recorder) find(kind EventKind, name string) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if e := r.events[i]; e.Kind == kind && e.Member.Name == name {
			return e, true
		}
	}
	return Event{}, false
}

func (r *recorder) has(kind EventKind, name string) bool {
	_, ok := r.find(kind, name)
	return ok
}

// testMeta is the metadata the test pools start with.
func testMeta(name string, role Role) Meta {
	m := Meta{Role: role, DC: "dc1", RPCAddr: "127.0.0.1:8500", DNSAddr: "127.0.0.1:8600", Version: "0.1.0"}
	if role == RoleServer {
		m.RaftAddr, m.Expect = "127.0.0.1:8300", 3
	}
	m.Tags = map[string]string{"name": name}
	return m
}

// testConfig returns a local-profile config on a free loopback port.
func testConfig(t testing.TB, name string, role Role) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Profile = ProfileLocal
	cfg.Label = "meridian-test"
	cfg.Meta = testMeta(name, role)
	cfg.Logger = testLogger(t).With("node", name)
	return cfg
}

// startPool starts a pool that records its events and closes with the test.
func startPool(t testing.TB, cfg Config) (*Pool, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg.Events = rec.record
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, rec
}

// freePort returns a loopback port free for both TCP and UDP right now,
// outside the ephemeral range, so that no member of a test running in
// parallel (they bind port 0) can take it before its owner starts.
func freePort(t testing.TB) int { return freeport.Port(t) }

// retry calls f until it succeeds or timeout passes. A join has a 1 s TCP
// timeout in the local profile, which a loaded machine (-race, the
// simulation) can exceed; Config.Join retries the same way.
func retry(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func names(ms []Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name+"="+string(m.State))
	}
	return strings.Join(s, ",")
}
