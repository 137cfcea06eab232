package examples_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"meridian/wasm/wasmtest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meridian/wasm"
)

// Keep these flags the same as build.sh's.
var (
	goFlags       = []string{"-trimpath", "-buildvcs=false", "-buildmode=c-shared"}
	wat2wasmFlags = []string{"--debug-names"}
)

const sdkAS = "../sdk/assemblyscript"

// sources lists the examples of one kind: name -> source (a directory
// for Go, a file otherwise).
func sources(t *testing.T, pattern string, name func(string) string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s: %v", pattern, err)
	}
	m := make(map[string]string)
	for _, f := range files {
		m[name(f)] = f
	}
	return m
}

func goExamples(t *testing.T) map[string]string {
	return sources(t, "*/main.go", func(f string) string { return filepath.Dir(f) })
}

func asExamples(t *testing.T) map[string]string {
	return sources(t, "*/index.ts", func(f string) string { return filepath.Dir(f) })
}

func watExamples(t *testing.T) map[string]string {
	return sources(t, "*/*.wat", func(f string) string { return strings.TrimSuffix(filepath.Base(f), ".wat") })
}

// TestSources: every module in testdata has a source, and every source a
// module.
func TestSources(t *testing.T) {
	all := make(map[string]string)
	for _, m := range []map[string]string{goExamples(t), asExamples(t), watExamples(t)} {
		for name, src := range m {
			if other, dup := all[name]; dup {
				t.Errorf("%s and %s both build testdata/%s.wasm", src, other, name)
			}
			all[name] = src
		}
	}
	built, _ := filepath.Glob("testdata/*.wasm")
	for _, w := range built {
		if _, ok := all[strings.TrimSuffix(filepath.Base(w), ".wasm")]; !ok {
			t.Errorf("%s has no source", w)
		}
	}
	for name, src := range all {
		if _, err := os.Stat(filepath.Join("testdata", name+".wasm")); err != nil {
			t.Errorf("%s is not built (run wasm/examples/build.sh): %v", src, err)
		}
	}
}

// TestReproducible rebuilds every example from its source, as build.sh
// does, and compares the bytes with testdata.
func TestReproducible(t *testing.T) {
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("-short: not building the Go examples")
		}
		wasmtest.SameGoToolchain(t, "testdata/GOVERSION", "wasm/examples/build.sh")
		dir := t.TempDir()
		// One go build per example (c-shared takes one main package), one
		// after the other: the first fills the build cache (the SDK and the
		// standard library for wasip1), which concurrent builds would each
		// compile again. With a warm cache each takes a fraction of a second.
		for name, src := range goExamples(t) {
			out := filepath.Join(dir, name+".wasm")
			cmd := exec.Command("go", append(append([]string{"build"}, goFlags...), "-o", out, ".")...)
			cmd.Dir = filepath.Dir(src)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("go build %s: %v\n%s", src, err, b)
				continue
			}
			sameFile(t, out, filepath.Join("testdata", name+".wasm"))
		}
	})
	t.Run("assemblyscript", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node not found: install nodejs and npm, then run npm ci in wasm/sdk/assemblyscript")
		}
		asc := filepath.Join(sdkAS, "node_modules", "assemblyscript", "bin", "asc.js")
		if _, err := os.Stat(asc); err != nil {
			t.Skip("the AssemblyScript compiler is not installed: run npm ci in wasm/sdk/assemblyscript")
		}
		if have, want := installedASVersion(t), lockedASVersion(t); have != want {
			t.Fatalf("wasm/sdk/assemblyscript/node_modules has assemblyscript %s, package-lock.json pins %s: run npm ci there", have, want)
		}
		dir, err := filepath.Abs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for name, src := range asExamples(t) {
			out := filepath.Join(dir, name+".wasm")
			// As build.sh: from the SDK's folder, with its asconfig.json.
			cmd := exec.Command("node", "node_modules/assemblyscript/bin/asc.js",
				filepath.Join("..", "..", "examples", filepath.ToSlash(src)), "--config", "asconfig.json", "-o", out)
			cmd.Dir = sdkAS
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("asc %s: %v\n%s", src, err, b)
				continue
			}
			sameFile(t, out, filepath.Join("testdata", name+".wasm"))
		}
	})
	t.Run("wat", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("wat2wasm"); err != nil {
			t.Skip("wat2wasm not found: install the Debian package wabt (build.sh does)")
		}
		dir := t.TempDir()
		for name, src := range watExamples(t) {
			out := filepath.Join(dir, name+".wasm")
			args := append(append([]string{}, wat2wasmFlags...), "-o", out, src)
			if b, err := exec.Command("wat2wasm", args...).CombinedOutput(); err != nil {
				t.Errorf("wat2wasm %s: %v\n%s", src, err, b)
				continue
			}
			sameFile(t, out, filepath.Join("testdata", name+".wasm"))
		}
	})
}

func installedASVersion(t *testing.T) string {
	var p struct{ Version string }
	readJSON(t, filepath.Join(sdkAS, "node_modules", "assemblyscript", "package.json"), &p)
	return p.Version
}

func lockedASVersion(t *testing.T) string {
	var lock struct {
		Packages map[string]struct{ Version string }
	}
	readJSON(t, filepath.Join(sdkAS, "package-lock.json"), &lock)
	return lock.Packages["node_modules/assemblyscript"].Version
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sameFile(t *testing.T, built, committed string) {
	t.Helper()
	wasmtest.SameBuild(t, built, committed, "wasm/examples/build.sh")
}

// TestImports: the modules import only the Meridian ABI (and, for Go, the
// WASI functions its runtime needs): an AssemblyScript module has no
// env.abort, and the Go ones are reactors.
func TestImports(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		reactor bool
	}{{"httpjson", true}, {"tcpbanner", true}, {"dnsresolve", true}, {"httpjson_as", false}, {"tcpconnect", false}} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := rt.Validate(ctx, module(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if info.Reactor != tc.reactor {
				t.Errorf("reactor %v, want %v", info.Reactor, tc.reactor)
			}
			for _, imp := range info.Imports {
				if !strings.HasPrefix(imp, wasm.HostModule+".") && !(tc.reactor && strings.HasPrefix(imp, "wasi_snapshot_preview1.")) {
					t.Errorf("imports %s", imp)
				}
			}
		})
	}
}

// --- helpers for the behaviour tests ---

// cacheDir keeps compiled modules between test runs (wazero keys entries
// by module digest, its version and the platform): compiling a Go example
// takes about a second, ten times that under the race detector. Package
// wasm's tests use the same directory.
func cacheDir() string {
	return filepath.Join(os.TempDir(), "meridian-wasm-test-cache")
}

// newRuntime starts a Runtime closed at the end of the test; its log goes
// to t.Log.
func newRuntime(t *testing.T) *wasm.Runtime {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt, err := wasm.New(context.Background(), wasm.Config{CacheDir: cacheDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func module(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatalf("%v (run wasm/examples/build.sh)", err)
	}
	return b
}

func load(t *testing.T, rt *wasm.Runtime, name string) *wasm.Module {
	t.Helper()
	m, err := rt.Load(context.Background(), module(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// runCase is one run of an example and what it must give.
type runCase struct {
	name    string
	args    string
	grants  []string
	status  int
	output  string   // the whole output, if set
	has     []string // parts of the output
	refused []string // Result.Refused
}

func (tc runCase) run(t *testing.T, m *wasm.Module) {
	t.Helper()
	res := m.Run(context.Background(), wasm.Check{
		Name:   tc.name,
		Args:   json.RawMessage(tc.args),
		Grants: tc.grants,
		Limits: wasm.Limits{Timeout: 20 * time.Second},
	})
	if res.Status != tc.status {
		t.Errorf("status %d, want %d; output %q", res.Status, tc.status, res.Output)
	}
	if tc.output != "" && res.Output != tc.output {
		t.Errorf("output\n%q, want\n%q", res.Output, tc.output)
	}
	for _, s := range tc.has {
		if !strings.Contains(res.Output, s) {
			t.Errorf("output %q does not have %q", res.Output, s)
		}
	}
	if !slices.Equal(res.Refused, tc.refused) {
		t.Errorf("refused %q, want %q", res.Refused, tc.refused)
	}
}
