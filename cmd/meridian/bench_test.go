package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/integration/loadgen"
)

// testLogWriter sends log lines to t.Log until the test ends, then drops
// them (dragonboat may still log while it stops).
type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDev runs a dev agent in this process on free loopback ports and
// returns its HTTP address once it is ready; it stops when the test ends.
func startDev(t *testing.T) string {
	t.Helper()
	lw := &testLogWriter{t: t}
	log, err := newLogger(lw, "warn")
	if err != nil {
		t.Fatal(err)
	}
	f := agentFlags{
		node: "bench-test", dc: "dc1", dataDir: t.TempDir(),
		httpAddr: freeAddr(t), raftAddr: freeAddr(t), lanAddr: freeAddr(t), gossipProfile: "local",
		logLevel: "warn", logDB: "tiny",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent(ctx, "dev", f, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev agent: %v", err)
		}
		lw.mu.Lock()
		lw.done = true
		lw.mu.Unlock()
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + f.httpAddr + "/v1/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return f.httpAddr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("dev agent stopped before it was ready: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev agent at %s not ready after 30s (last: %v)", f.httpAddr, err)
		}
	}
}

var opsPerSec = regexp.MustCompile(`(?m)^ops/s:\s+([0-9.]+)$`)

func TestBenchKVAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev agent")
	}
	addr := startDev(t)
	common := []string{"kv", "-http-addr", addr, "-duration", "1s", "-clients", "8", "-keys", "200"}

	t.Run("mixed text", func(t *testing.T) {
		var out, errb bytes.Buffer
		args := append(append([]string{}, common...), "-op", "mixed", "-folders", "2")
		if code := runBench(args, &out, &errb); code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
		t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		m := opsPerSec.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no ops/s line in the output:\n%s", out.String())
		}
		if v, _ := strconv.ParseFloat(m[1], 64); v <= 0 {
			t.Fatalf("ops/s = %s, want more than 0", m[1])
		}
		for _, want := range []string{"p50 ", "p99 ", "p99.9 ", "max ", "errors:", "get:", "put:"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q", want)
			}
		}
		for _, want := range []string{"populated 200 keys", "over 2 of 4 KV shards"} {
			if !strings.Contains(errb.String(), want) {
				t.Errorf("progress lacks %q", want)
			}
		}
	})

	t.Run("put json", func(t *testing.T) {
		var out, errb bytes.Buffer
		args := append(append([]string{}, common...), "-op", "put", "-json")
		if code := runBench(args, &out, &errb); code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
		var r loadgen.Result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("-json output is not one JSON result: %v\n%s", err, out.String())
		}
		if r.System != "meridian" || r.Op != "put" || r.Ops == 0 || r.OpsPerSec <= 0 || r.LatencyMicros.P50 <= 0 {
			t.Fatalf("result = %+v, want a put load with ops", r)
		}
	})
}

func TestBenchKVFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "Usage: meridian bench kv"},
		{"unknown subcommand", []string{"catalog"}, "Usage: meridian bench kv"},
		{"bad op", []string{"kv", "-op", "scan"}, "-op"},
		{"bad consistency", []string{"kv", "-consistency", "strong"}, "-consistency"},
		{"remote agent", []string{"kv", "-http-addr", "192.0.2.1:7500"}, "not a loopback address"},
		{"stray argument", []string{"kv", "extra"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runBench(tc.args, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr: %s)", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, errb.String())
			}
		})
	}
}
