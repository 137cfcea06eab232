package wasm

import (
	"context"
	"encoding/json"
	"meridian/wasm/wasmtest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wat2wasmFlags must match WAT2WASM_FLAGS in testdata/build.sh.
var wat2wasmFlags = []string{"--debug-names"}

// TestGuestsReproducible rebuilds the test guests from their sources and
// compares them with the committed .wasm files.
func TestGuestsReproducible(t *testing.T) {
	t.Run("wat", func(t *testing.T) {
		wats, err := filepath.Glob("testdata/*.wat")
		if err != nil || len(wats) == 0 {
			t.Fatal("no testdata/*.wat", err)
		}
		wasms, _ := filepath.Glob("testdata/*.wasm")
		for _, w := range wasms {
			if w == filepath.Join("testdata", "goguest.wasm") {
				continue
			}
			if _, err := os.Stat(strings.TrimSuffix(w, ".wasm") + ".wat"); err != nil {
				t.Errorf("%s has no .wat source", w)
			}
		}
		if _, err := exec.LookPath("wat2wasm"); err != nil {
			t.Skip("wat2wasm not found: install the Debian package wabt (wasm/testdata/build.sh does) to check the WAT guests")
		}
		dir := t.TempDir()
		for _, wat := range wats {
			name := strings.TrimSuffix(filepath.Base(wat), ".wat")
			out := filepath.Join(dir, name+".wasm")
			args := append(append([]string{}, wat2wasmFlags...), "-o", out, wat)
			if b, err := exec.Command("wat2wasm", args...).CombinedOutput(); err != nil {
				t.Errorf("wat2wasm %s: %v\n%s", wat, err, b)
				continue
			}
			sameFile(t, out, strings.TrimSuffix(wat, ".wat")+".wasm")
		}
	})
	t.Run("go", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: not building the Go guest")
		}
		wasmtest.SameGoToolchain(t, "testdata/goguest/GOVERSION", "wasm/testdata/build.sh")
		out := filepath.Join(t.TempDir(), "goguest.wasm")
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = filepath.Join("testdata", "goguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		sameFile(t, out, filepath.Join("testdata", "goguest.wasm"))
	})
}

func sameFile(t *testing.T, built, committed string) {
	t.Helper()
	wasmtest.SameBuild(t, built, committed, "wasm/testdata/build.sh")
}

// TestGoGuest runs a check built by the standard Go toolchain as a WASI
// reactor (//go:wasmexport check, //go:wasmimport meridian ...).
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiling the Go guest takes a second")
	}
	rt := newRuntime(t, Config{CacheDir: sharedCacheDir()})
	ctx := context.Background()
	m := load(t, rt, "goguest")
	if info := m.Info(); !info.Reactor || info.MemoryPages == 0 {
		t.Fatalf("info = %+v", info)
	}
	for _, tc := range []struct {
		args   string
		status int
	}{{`{"a":1}`, Passing}, {`{"a":1}`, Passing}, {`"warn"`, Warning}} {
		res := m.Run(ctx, Check{Args: json.RawMessage(tc.args)})
		if res.Status != tc.status || res.Output != "go guest: args "+tc.args {
			t.Fatalf("%s: %+v", tc.args, res)
		}
	}
	// A Go panic prints to stderr and, in a reactor, traps.
	res := m.Run(ctx, Check{Args: json.RawMessage(`"panic"`)})
	if res.Status != Critical || !strings.Contains(res.Output, "panic: boom") || !strings.Contains(res.Output, "meridian: check trapped: wasm error: unreachable") {
		t.Fatalf("panic: %+v", res)
	}
	// The next run gets a fresh instance (and _initialize again).
	if res := m.Run(ctx, Check{Args: json.RawMessage(`"warn"`)}); res.Status != Warning {
		t.Fatalf("after the panic: %+v", res)
	}
}

// sharedCacheDir keeps the compiled Go guest between test runs: compiling
// it takes about a second, and ten times that under the race detector.
// wazero writes cache entries atomically and keys them by module digest,
// wazero version and platform.
func sharedCacheDir() string {
	return filepath.Join(os.TempDir(), "meridian-wasm-test-cache")
}
