package assemblyscript_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"meridian/wasm/wasmtest"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meridian/wasm"
)

// TestSelfTest builds test/selftest.ts with the locked compiler and runs
// it against servers on 127.0.0.1: JSON reading and writing, arguments,
// log, clock, HTTP (GET, POST, a cut answer, a refused URL), TCP and DNS
// (answered and refused), and the abort handler.
func TestSelfTest(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found: install nodejs and npm, then run npm ci here")
	}
	if _, err := os.Stat("node_modules/assemblyscript/bin/asc.js"); err != nil {
		t.Skip("the AssemblyScript compiler is not installed: run npm ci here")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ips, err := net.DefaultResolver.LookupIPAddr(ctx, "localhost"); err != nil ||
		!slices.ContainsFunc(ips, func(ip net.IPAddr) bool { return ip.IP.String() == "127.0.0.1" }) {
		t.Skipf("localhost does not resolve to 127.0.0.1 here: %v %v", ips, err)
	}

	out := filepath.Join(t.TempDir(), "selftest.wasm")
	cmd := exec.CommandContext(ctx, "node", "node_modules/assemblyscript/bin/asc.js", "test/selftest.ts", "--config", "asconfig.json", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("asc: %v\n%s", err, b)
	}
	module, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/health/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Test", r.Header.Get("X-Test"))
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/health/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("0123456789", 1000))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	pong := wasmtest.TCPServer(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			io.WriteString(c, "+PONG\r\n")
		}
	})
	other := wasmtest.TCPServer(t, func(c net.Conn) {})

	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt, err := wasm.New(ctx, wasm.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, module)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range m.Info().Imports {
		if !strings.HasPrefix(imp, "meridian.") {
			t.Errorf("imports %s", imp)
		}
	}

	args, _ := json.Marshal(map[string]string{
		"http":       srv.URL + "/health",
		"echo":       srv.URL + "/health/echo",
		"big":        srv.URL + "/health/big",
		"denied_url": srv.URL + "/admin",
		"tcp":        pong,
		"denied_tcp": other,
	})
	check := wasm.Check{
		Name:   "selftest",
		Args:   args,
		Grants: []string{srv.URL + "/health", pong, "localhost"},
		Limits: wasm.Limits{Timeout: 20 * time.Second},
	}
	for run := range 2 { // the second run reuses the instance
		res := m.Run(ctx, check)
		if res.Status != wasm.Passing || !strings.HasPrefix(res.Output, "selftest: ") || !strings.Contains(res.Output, " checks passed\n") {
			t.Fatalf("run %d: status %d\n%s", run, res.Status, res.Output)
		}
		want := []string{"http_request " + srv.URL + "/admin", "tcp_connect " + other, "dns_lookup db.internal"}
		if !slices.Equal(res.Refused, want) {
			t.Fatalf("run %d: refused %q, want %q", run, res.Refused, want)
		}
	}

	// abort: the message is the output, and the check traps.
	res := m.Run(ctx, wasm.Check{Name: "abort", Args: json.RawMessage(`{"abort":true}`)})
	if res.Status != wasm.Critical || !strings.HasPrefix(res.Output, "abort: Index out of range at ~lib/array.ts:") ||
		!strings.Contains(res.Output, "\nmeridian: check trapped: wasm error: unreachable") {
		t.Fatalf("abort: status %d\n%s", res.Status, res.Output)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
