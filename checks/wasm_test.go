package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/rpc"
	"meridian/wasm"
)

// testModuleSource is the ModuleSource of the tests: it loads the guests
// of wasm/testdata, by file name, into a real wasm.Runtime, and points
// module names at their digests as the servers do. It counts the lookups
// of each reference.
type testModuleSource struct {
	t  testing.TB
	rt *wasm.Runtime

	mu      sync.Mutex
	modules map[string]*wasm.Module // by digest
	names   map[string]string       // name -> digest
	lookups map[string]int          // Module calls, by ref
}

var _ ModuleSource = (*testModuleSource)(nil)

// errTestNotFound is what testModuleSource answers for an unknown ref.
var errTestNotFound = errors.New("not found")

// newTestModuleSource starts a Runtime with cfg (logs to t), closed at the
// end of the test, after the runners made later.
func newTestModuleSource(t testing.TB, cfg wasm.Config) *testModuleSource {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	rt, err := wasm.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return &testModuleSource{t: t, rt: rt, modules: map[string]*wasm.Module{},
		names: map[string]string{}, lookups: map[string]int{}}
}

// load loads wasm/testdata/<file>.wasm and returns its digest.
func (s *testModuleSource) load(file string) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wasm", "testdata", file+".wasm"))
	if err != nil {
		s.t.Fatal(err)
	}
	m, err := s.rt.Load(context.Background(), b)
	if err != nil {
		s.t.Fatalf("load %s: %v", file, err)
	}
	digest := m.Info().Digest
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.modules[digest] != nil {
		m.Close(context.Background()) // one Load per module is enough
	} else {
		s.modules[digest] = m
	}
	return digest
}

// point points name at the module of file, loading it, and returns its
// digest.
func (s *testModuleSource) point(name, file string) string {
	digest := s.load(file)
	s.mu.Lock()
	s.names[name] = digest
	s.mu.Unlock()
	return digest
}

func (s *testModuleSource) Module(ctx context.Context, ref string) (*wasm.Module, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups[ref]++
	if d, ok := s.names[ref]; ok {
		ref = d
	}
	if m := s.modules[ref]; m != nil {
		return m, nil
	}
	return nil, errTestNotFound
}

func (s *testModuleSource) numLookups(ref string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups[ref]
}

// wasmCheck is a wasm check with a timeout of 5s (see httpCheck).
func wasmCheck(id, module string, interval time.Duration) rpc.CheckDefinition {
	return rpc.CheckDefinition{ID: id, Name: id, Kind: rpc.CheckWASM, Module: module,
		Interval: dur(interval), Timeout: dur(5 * time.Second)}
}

// waitState waits until check id has status and an output holding want.
func waitState(t *testing.T, r *Runner, id, status, want string) State {
	t.Helper()
	var st State
	waitFor(t, fmt.Sprintf("%s %s with %q", id, status, want), func() bool {
		st = mustGet(t, r, id)
		return st.Status == status && strings.Contains(st.Output, want)
	})
	return st
}

// One probe of each module through a Runner: the module's status and
// output are the check's.
func TestWASMStatus(t *testing.T) {
	src := newTestModuleSource(t, wasm.Config{})
	for _, f := range []string{"pass", "warn", "crit", "seven", "output", "args", "unreachable"} {
		src.point(f, f)
	}
	warnDigest := src.load("warn")
	cases := []struct {
		name   string
		module string
		args   string
		status string
		output string // "" = empty
	}{
		{"passing", "pass", "", rpc.HealthPassing, ""},
		{"warning", "warn", "", rpc.HealthWarning, ""},
		{"by digest", warnDigest, "", rpc.HealthWarning, ""},
		{"critical", "crit", "", rpc.HealthCritical, ""},
		{"other status is critical", "seven", "", rpc.HealthCritical, "meridian: check returned 7: anything but 0, 1, 2 is critical"},
		{"output", "output", "", rpc.HealthPassing, "all good: 3 of 3 replicas up"},
		{"args", "args", `{"port":8080}`, rpc.HealthPassing, `{"port":8080}`},
		{"trap", "unreachable", "", rpc.HealthCritical, "meridian: check trapped: wasm error: unreachable"},
	}
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk, Modules: src})
	for i, tc := range cases {
		def := wasmCheck(fmt.Sprintf("c%d", i), tc.module, time.Second)
		def.Args = json.RawMessage(tc.args)
		// The initial status differs from the expected one, so the state
		// shows that a probe ran.
		def.Status = rpc.HealthCritical
		if tc.status == rpc.HealthCritical {
			def.Status = rpc.HealthPassing
		}
		mustAdd(t, r, def)
	}
	clk.waitArmed(t, len(cases))
	clk.step(t, time.Second, len(cases)) // one probe each (the stagger is under 1s)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := mustGet(t, r, fmt.Sprintf("c%d", i))
			if st.Status != tc.status || !strings.Contains(st.Output, tc.output) || (tc.output == "" && st.Output != "") {
				t.Fatalf("%s %q, want %s with %q", st.Status, st.Output, tc.status, tc.output)
			}
		})
	}
}

// A module that loops forever is stopped at the check's timeout; the
// runner's other checks, wasm and http, keep their schedule meanwhile.
func TestWASMTimeout(t *testing.T) {
	src := newTestModuleSource(t, wasm.Config{})
	src.point("loop", "loop")
	src.point("pass", "pass")
	srv := newSwitchServer(t, 200)
	r := newRunner(t, Config{Modules: src, MaxWASMRuns: 2})

	loop := wasmCheck("loop", "loop", 10*time.Millisecond)
	loop.Timeout = dur(time.Second)
	mustAdd(t, r, loop)
	waitFor(t, "the loop's first run", func() bool { return src.numLookups("loop") == 1 })
	pass0, hits0 := src.numLookups("pass"), srv.hits.Load()
	mustAdd(t, r, wasmCheck("pass", "pass", 10*time.Millisecond))
	mustAdd(t, r, httpCheck("web", srv.URL, 10*time.Millisecond))

	st := waitState(t, r, "loop", rpc.HealthCritical, "meridian: check timed out after")
	// The loop's first run took 1s, at 10ms intervals: the others ran
	// about 100 times each meanwhile.
	if pass, hits := src.numLookups("pass")-pass0, srv.hits.Load()-hits0; pass < 10 || hits < 10 {
		t.Fatalf("during the loop's first run (%q) the wasm check ran %d times and the http check %d", st.Output, pass, hits)
	}
	for _, id := range []string{"pass", "web"} {
		if st := mustGet(t, r, id); st.Status != rpc.HealthPassing {
			t.Fatalf("%s: %s %q", id, st.Status, st.Output)
		}
	}
}

// An http_request to a granted URL passes; to one the grants do not name
// it is refused and the check is critical with the refusal in its output.
func TestWASMGrants(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	src := newTestModuleSource(t, wasm.Config{})
	src.point("http", "http")
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk, Modules: src})

	args := json.RawMessage(`{"url":"` + srv.URL + `/health"}`)
	granted := wasmCheck("granted", "http", time.Second)
	granted.Args, granted.Grants = args, []string{srv.URL + "/health"}
	mustAdd(t, r, granted)
	other := wasmCheck("other", "http", time.Second)
	other.Args, other.Grants, other.Status = args, []string{srv.URL + "/other"}, rpc.HealthPassing
	mustAdd(t, r, other)
	none := wasmCheck("none", "http", time.Second)
	none.Args, none.Status = args, rpc.HealthPassing
	mustAdd(t, r, none)
	clk.waitArmed(t, 3)
	clk.step(t, time.Second, 3)

	if st := mustGet(t, r, "granted"); st.Status != rpc.HealthPassing || !strings.Contains(st.Output, `"status":200`) {
		t.Fatalf("granted: %s %q", st.Status, st.Output)
	}
	for _, tc := range []struct{ id, grants string }{{"other", srv.URL + "/other"}, {"none", "none"}} {
		want := "meridian: http_request " + srv.URL + "/health refused: not granted (grants: " + tc.grants
		if st := mustGet(t, r, tc.id); st.Status != rpc.HealthCritical || !strings.Contains(st.Output, want) {
			t.Fatalf("%s: %s %q, want critical with %q", tc.id, st.Status, st.Output, want)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the server saw %d requests, want 1 (the granted check's)", n)
	}
}

// A name moved to another digest takes effect at the check's next run.
func TestWASMModuleMoves(t *testing.T) {
	src := newTestModuleSource(t, wasm.Config{})
	src.point("web-health", "pass")
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk, Modules: src})
	mustAdd(t, r, wasmCheck("web", "web-health", time.Second))
	clk.waitArmed(t, 1)

	for i, file := range []string{"pass", "crit", "warn", "pass"} {
		src.point("web-health", file)
		clk.step(t, time.Second, 1)
		want := map[string]string{"pass": rpc.HealthPassing, "crit": rpc.HealthCritical, "warn": rpc.HealthWarning}[file]
		if st := mustGet(t, r, "web"); st.Status != want {
			t.Fatalf("run %d, name on %s: %s %q, want %s", i+1, file, st.Status, st.Output, want)
		}
	}
	if n := src.numLookups("web-health"); n != 4 {
		t.Fatalf("%d lookups for 4 runs", n)
	}
}

// A module the source cannot give makes the check critical, naming the
// module and the error; the check recovers when the module appears.
func TestWASMSourceError(t *testing.T) {
	src := newTestModuleSource(t, wasm.Config{})
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk, Modules: src})
	def := wasmCheck("web", "web-health", time.Second)
	def.Status = rpc.HealthPassing
	mustAdd(t, r, def)
	clk.waitArmed(t, 1)

	clk.step(t, time.Second, 1)
	if st := mustGet(t, r, "web"); st.Status != rpc.HealthCritical || st.Output != `module "web-health": not found` {
		t.Fatalf("%s %q", st.Status, st.Output)
	}
	src.point("web-health", "pass")
	clk.step(t, time.Second, 1)
	if st := mustGet(t, r, "web"); st.Status != rpc.HealthPassing {
		t.Fatalf("after the module appeared: %s %q", st.Status, st.Output)
	}
}

// At most Config.MaxWASMRuns runs are in progress at once: two checks
// whose runs each hold an HTTP request for a while never have two
// requests in flight with MaxWASMRuns 1, and do with 2.
func TestWASMMaxRuns(t *testing.T) {
	for _, maxRuns := range []int{1, 2} {
		t.Run(fmt.Sprint(maxRuns), func(t *testing.T) {
			var inflight, most atomic.Int64
			var hits [2]atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inflight.Add(1)
				defer inflight.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if strings.HasSuffix(r.URL.Path, "/1") {
					hits[1].Add(1)
				} else {
					hits[0].Add(1)
				}
				time.Sleep(20 * time.Millisecond) // a slow service: the run holds its slot
				fmt.Fprint(w, "ok")
			}))
			t.Cleanup(srv.Close)
			src := newTestModuleSource(t, wasm.Config{})
			src.point("http", "http")
			r := newRunner(t, Config{Modules: src, MaxWASMRuns: maxRuns})
			for i := range 2 {
				url := fmt.Sprintf("%s/health/%d", srv.URL, i)
				def := wasmCheck(fmt.Sprint(i), "http", 10*time.Millisecond)
				def.Args, def.Grants = json.RawMessage(`{"url":"`+url+`"}`), []string{url}
				mustAdd(t, r, def)
			}
			waitFor(t, "5 runs of each check", func() bool {
				return hits[0].Load() >= 5 && hits[1].Load() >= 5 && (maxRuns == 1 || most.Load() == 2)
			})
			if got := most.Load(); got != int64(maxRuns) {
				t.Fatalf("%d requests in flight at most, want %d", got, maxRuns)
			}
			for i := range 2 {
				if st := mustGet(t, r, fmt.Sprint(i)); st.Status != rpc.HealthPassing {
					t.Fatalf("check %d: %s %q", i, st.Status, st.Output)
				}
			}
		})
	}
}

// A run waiting for a slot still ends at its timeout, critical; Remove
// cancels a run in progress.
func TestWASMSlotTimeout(t *testing.T) {
	src := newTestModuleSource(t, wasm.Config{})
	src.point("sleep", "sleep") // sleeps for an hour, or until its deadline
	src.point("pass", "pass")
	r := newRunner(t, Config{Modules: src, MaxWASMRuns: 1})
	hog := wasmCheck("hog", "sleep", 10*time.Millisecond)
	hog.Timeout = dur(time.Minute)
	mustAdd(t, r, hog)
	waitFor(t, "the hog's first run", func() bool { return src.numLookups("sleep") == 1 })
	def := wasmCheck("pass", "pass", 10*time.Millisecond)
	def.Timeout, def.Status = dur(100*time.Millisecond), rpc.HealthPassing
	mustAdd(t, r, def)

	waitState(t, r, "pass", rpc.HealthCritical, "timed out after 100ms waiting for a WASM slot (1 runs at a time)")
	start := time.Now()
	r.Remove("hog")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Remove took %s: the run was not cancelled", d)
	}
	waitState(t, r, "pass", rpc.HealthPassing, "")
}

// Without Config.Modules, wasm checks are refused as not supported.
func TestWASMNoSource(t *testing.T) {
	r := newRunner(t, Config{})
	err := r.Add(wasmCheck("w", "pass", time.Second))
	if !errors.Is(err, ErrUnsupportedKind) || !errors.Is(err, rpc.ErrInvalidParams) || !strings.Contains(err.Error(), "wasm") {
		t.Fatalf("got %v, want ErrUnsupportedKind", err)
	}
}

// The definition a State hands out shares no args or grants with the
// runner's.
func TestWASMStateIsACopy(t *testing.T) {
	src := newTestModuleSource(t, wasm.Config{})
	r := newRunner(t, Config{Clock: newFakeClock(), Modules: src})
	def := wasmCheck("w", "pass", time.Second)
	def.Args, def.Grants = json.RawMessage(`{"a":1}`), []string{"localhost"}
	mustAdd(t, r, def)
	def.Args[2], def.Grants[0] = 'b', "changed" // the caller's copy
	st := mustGet(t, r, "w")
	st.Definition.Args[2], st.Definition.Grants[0] = 'c', "changed"
	if st := mustGet(t, r, "w"); string(st.Definition.Args) != `{"a":1}` || st.Definition.Grants[0] != "localhost" {
		t.Fatalf("the runner's definition changed: %s %q", st.Definition.Args, st.Definition.Grants)
	}
}
