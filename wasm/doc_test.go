package wasm

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDocExample builds the WAT example of docs/wasm-abi.md and runs it.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "wasm-abi.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```wat\n")
	src, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("no wat block in docs/wasm-abi.md")
	}
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm not found: install the Debian package wabt")
	}
	// The example's request names 127.0.0.1:8080; serve on a free port of
	// as many digits, so the byte counts in the example stay right.
	var ln net.Listener
	for port := 8080; port < 9000 && ln == nil; port++ {
		ln, _ = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	}
	if ln == nil {
		t.Skip("no free port in 8080-8999")
	}
	addr := ln.Addr().String()
	var code atomic.Int32
	code.Store(200)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(code.Load()))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	dir := t.TempDir()
	wat, out := filepath.Join(dir, "health.wat"), filepath.Join(dir, "health.wasm")
	os.WriteFile(wat, []byte(strings.ReplaceAll(src, "127.0.0.1:8080", addr)), 0o644)
	if b, err := exec.Command("wat2wasm", "-o", out, wat).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	rt := newRuntime(t, Config{})
	m, err := rt.Load(context.Background(), must(os.ReadFile(out)))
	if err != nil {
		t.Fatal(err)
	}
	c := Check{Grants: []string{"http://" + addr + "/health"}}
	run := func(want int, output string) {
		t.Helper()
		res := m.Run(context.Background(), c)
		if res.Status != want || !strings.Contains(res.Output, output) {
			t.Fatalf("%+v, want status %d with %q", res, want, output)
		}
	}
	run(Passing, `{"status":200,`)
	code.Store(503)
	run(Warning, `{"status":503,`)
	c.Grants = nil
	run(Critical, "health endpoint unreachable\nmeridian: http_request http://"+addr+"/health refused")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
