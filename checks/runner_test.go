package checks

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/rpc"
)

// switchServer answers with the status code it is set to, and a body that
// counts the requests.
type switchServer struct {
	*httptest.Server
	code atomic.Int64
	hits atomic.Int64
}

func newSwitchServer(t *testing.T, code int) *switchServer {
	s := &switchServer{}
	s.code.Store(int64(code))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		w.WriteHeader(int(s.code.Load()))
		fmt.Fprintf(w, "hit %d", n)
	}))
	t.Cleanup(s.Close)
	return s
}

// httpCheck is an http check with a timeout of 5s: with a tiny interval
// the default (the interval) would make probes time out on a busy machine.
func httpCheck(id, url string, interval time.Duration) rpc.CheckDefinition {
	return rpc.CheckDefinition{ID: id, Name: id, Kind: rpc.CheckHTTP, HTTP: url, Interval: dur(interval), Timeout: dur(5 * time.Second)}
}

func TestThresholds(t *testing.T) {
	const (
		P = rpc.HealthPassing
		W = rpc.HealthWarning
		C = rpc.HealthCritical
	)
	cases := []struct {
		name     string
		sbp, fbc int
		initial  string
		codes    []int    // the server's answer to each probe
		want     []string // the status after each probe
	}{
		{"no thresholds: every result counts", 0, 0, "", []int{200, 500, 429, 200}, []string{P, C, W, P}},
		{"threshold 1 is no threshold", 1, 1, "", []int{200, 500, 200}, []string{P, C, P}},
		{"failures_before_critical 3 needs 3 failures in a row", 0, 3, "",
			[]int{200, 500, 500, 200, 500, 500, 500}, []string{P, P, P, P, P, P, C}},
		{"success_before_passing 2 needs 2 successes in a row", 2, 0, "",
			[]int{500, 200, 500, 200, 200}, []string{C, C, C, C, P}},
		{"429 counts as a success: resets failures", 0, 2, "",
			[]int{200, 500, 429, 500, 500}, []string{P, P, W, W, C}},
		{"429 waits for success_before_passing", 2, 0, "",
			[]int{500, 429, 429}, []string{C, C, W}},
		{"first result counts at once, as Consul", 3, 3, rpc.HealthPassing,
			[]int{500, 200, 200, 200}, []string{C, C, C, P}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSwitchServer(t, 200)
			clk := newFakeClock()
			rec := &recorder{}
			r := newRunner(t, Config{Clock: clk, Notify: rec.notify})
			def := httpCheck("web", srv.URL, time.Second)
			def.SuccessBeforePassing, def.FailuresBeforeCritical, def.Status = tc.sbp, tc.fbc, tc.initial
			mustAdd(t, r, def)
			clk.waitArmed(t, 1)

			prev := Normalize(def).Status
			var wantNotified []string
			for i, code := range tc.codes {
				srv.code.Store(int64(code))
				clk.step(t, time.Second, 1) // one probe, recorded
				if n := srv.hits.Load(); n != int64(i+1) {
					t.Fatalf("probe %d: the server saw %d requests", i+1, n)
				}
				if got := mustGet(t, r, "web").Status; got != tc.want[i] {
					t.Fatalf("after probe %d (HTTP %d): %s, want %s", i+1, code, got, tc.want[i])
				}
				if tc.want[i] != prev {
					wantNotified = append(wantNotified, tc.want[i])
					prev = tc.want[i]
				}
				flushNotify(t, r) // else quick changes coalesce (TestNotifierQueue)
			}
			if got := rec.statuses("web"); !reflect.DeepEqual(got, wantNotified) {
				t.Fatalf("notified %v, want %v", got, wantNotified)
			}
		})
	}
}

// A held-back result changes nothing, output included; an output change
// with the same status updates the state but is not notified.
func TestOutputOnlyChangeNotNotified(t *testing.T) {
	srv := newSwitchServer(t, 200)
	clk := newFakeClock()
	rec := &recorder{}
	r := newRunner(t, Config{Clock: clk, Notify: rec.notify})
	def := httpCheck("web", srv.URL, time.Second)
	def.FailuresBeforeCritical = 2
	mustAdd(t, r, def)
	clk.waitArmed(t, 1)

	clk.step(t, time.Second, 1)
	st1 := mustGet(t, r, "web")
	if st1.Status != rpc.HealthPassing || !strings.HasSuffix(st1.Output, "Output: hit 1") {
		t.Fatalf("probe 1: %s %q", st1.Status, st1.Output)
	}
	clk.step(t, time.Second, 1)
	st2 := mustGet(t, r, "web")
	if st2.Status != rpc.HealthPassing || !strings.HasSuffix(st2.Output, "Output: hit 2") || !st2.Since.Equal(st1.Since) {
		t.Fatalf("probe 2: %s %q since %v", st2.Status, st2.Output, st2.Since)
	}
	srv.code.Store(500)
	clk.step(t, time.Second, 1) // held back by failures_before_critical
	if st := mustGet(t, r, "web"); st.Status != rpc.HealthPassing || st.Output != st2.Output {
		t.Fatalf("held-back probe changed the state: %s %q", st.Status, st.Output)
	}
	flushNotify(t, r)
	want := []Update{{ID: "web", Status: rpc.HealthPassing, Output: st1.Output}}
	if got := rec.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("notified %+v, want %+v", got, want)
	}
}

func TestRemoveStopsCheck(t *testing.T) {
	srv := newSwitchServer(t, 200)
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk})
	mustAdd(t, r, httpCheck("web", srv.URL, time.Second))
	mustAdd(t, r, ttlCheck("api", ""))
	clk.waitArmed(t, 2)
	clk.step(t, time.Second, 2)
	if srv.hits.Load() != 1 {
		t.Fatalf("hits %d", srv.hits.Load())
	}

	if !r.Remove("web") || !r.Remove("api") {
		t.Fatal("Remove: false for a known check")
	}
	if r.Remove("web") {
		t.Fatal("Remove twice: true")
	}
	if _, ok := r.Get("web"); ok || len(r.States()) != 0 {
		t.Fatal("removed check still listed")
	}
	// Remove waited for the goroutines, which stopped their timers: nothing
	// can probe any more, however far the clock goes.
	if n := clk.numArmed(); n != 0 {
		t.Fatalf("%d timers still armed", n)
	}
	clk.Advance(time.Hour)
	if srv.hits.Load() != 1 {
		t.Fatalf("hits %d after Remove", srv.hits.Load())
	}
}

// blockingServer holds every request until the client gives up.
type blockingServer struct {
	*httptest.Server
	inFlight atomic.Int64
	started  chan struct{}
}

func newBlockingServer(t *testing.T) *blockingServer {
	s := &blockingServer{started: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		s.started <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRemoveCancelsProbe(t *testing.T) {
	srv := newBlockingServer(t)
	clk := newFakeClock()
	r := newRunner(t, Config{Clock: clk})
	def := httpCheck("slow", srv.URL, time.Minute)
	def.Timeout = dur(5 * time.Minute)
	mustAdd(t, r, def)
	clk.waitArmed(t, 1)
	clk.Advance(time.Minute)
	<-srv.started

	start := time.Now()
	r.Remove("slow")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Remove took %s with a probe in flight", d)
	}
	waitFor(t, "the server to see the client go", func() bool { return srv.inFlight.Load() == 0 })
}

func TestSlowCheckDoesNotDelayFast(t *testing.T) {
	slow := newBlockingServer(t)
	fast := newSwitchServer(t, 200)
	r := newRunner(t, Config{})
	slowDef := httpCheck("slow", slow.URL, 10*time.Millisecond)
	slowDef.Timeout = dur(time.Minute)
	mustAdd(t, r, slowDef)
	mustAdd(t, r, httpCheck("fast", fast.URL, 10*time.Millisecond))

	<-slow.started
	from := fast.hits.Load()
	waitFor(t, "fast probes while the slow one hangs", func() bool { return fast.hits.Load() >= from+5 })
	if slow.inFlight.Load() != 1 {
		t.Fatal("the slow probe ended")
	}
	if st := mustGet(t, r, "fast"); st.Status != rpc.HealthPassing {
		t.Fatalf("fast: %s", st.Status)
	}
	if st := mustGet(t, r, "slow"); st.Status != rpc.HealthCritical || st.Output != "" {
		t.Fatalf("slow: %s %q, want the untouched initial state", st.Status, st.Output)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	web := newSwitchServer(t, 200)
	slow := newBlockingServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted sync.WaitGroup
	accepted.Add(1)
	go func() {
		defer accepted.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); accepted.Wait() })
	baseline := runtime.NumGoroutine()

	rec := &recorder{}
	r, err := New(Config{MinInterval: 10 * time.Millisecond, Notify: rec.notify, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustAdd(t, r, httpCheck(fmt.Sprintf("web-%d", i), web.URL, 10*time.Millisecond))
	}
	mustAdd(t, r, rpc.CheckDefinition{ID: "tcp", Name: "tcp", Kind: rpc.CheckTCP, TCP: ln.Addr().String(), Interval: dur(10 * time.Millisecond), Timeout: dur(5 * time.Second)})
	mustAdd(t, r, rpc.CheckDefinition{ID: "ttl", Name: "ttl", Kind: rpc.CheckTTL, TTL: dur(10 * time.Millisecond)})
	slowDef := httpCheck("slow", slow.URL, 10*time.Millisecond)
	slowDef.Timeout = dur(time.Minute)
	mustAdd(t, r, slowDef)

	waitFor(t, "every check to report", func() bool {
		for _, st := range r.States() {
			if st.ID != "slow" && st.Output == "" {
				return false
			}
		}
		return web.hits.Load() >= 10
	})
	<-slow.started
	if len(goroutines(runnerFrames...)) == 0 {
		t.Fatal("goroutines finds nothing: runnerFrames are stale")
	}

	start := time.Now()
	var wg sync.WaitGroup
	for range 2 { // concurrent Close calls both wait
		wg.Go(r.Close)
	}
	wg.Wait()
	r.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %s", d)
	}
	// Close waited for them: none is still running a check or the
	// notifier. One may be caught between wg.Done and its exit, its
	// wrapper the top frame; those end on their own.
	if g := slices.DeleteFunc(goroutines(runnerFrames...), exiting); len(g) != 0 {
		t.Fatalf("goroutines left after Close:\n%s", strings.Join(g, "\n\n"))
	}
	waitFor(t, "goroutines past wg.Done to exit", func() bool { return len(goroutines(runnerFrames...)) == 0 })
	waitFor(t, "client connections to end", func() bool { return len(goroutines(connFrames)) == 0 })
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })

	if err := r.Add(httpCheck("late", web.URL, time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if len(r.States()) != 0 {
		t.Fatal("checks listed after Close")
	}
}

// End to end with real time: http, tcp and a status change reaching
// Notify.
func TestRunnerRealTime(t *testing.T) {
	web := newSwitchServer(t, 200)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := ln.Addr().String()
	ln.Close() // refused: critical, the initial status, so no notification

	rec := &recorder{}
	r := newRunner(t, Config{Notify: rec.notify})
	mustAdd(t, r, httpCheck("web", web.URL+"/health", 20*time.Millisecond))
	mustAdd(t, r, rpc.CheckDefinition{ID: "db", Name: "db", ServiceID: "db-1", Kind: rpc.CheckTCP, TCP: tcpAddr, Interval: dur(20 * time.Millisecond), Timeout: dur(5 * time.Second)})

	waitFor(t, "web passing", func() bool { return len(rec.statuses("web")) == 1 })
	web.code.Store(503)
	waitFor(t, "web critical", func() bool { return len(rec.statuses("web")) == 2 })
	if got := rec.statuses("web"); !reflect.DeepEqual(got, []string{rpc.HealthPassing, rpc.HealthCritical}) {
		t.Fatalf("web notified %v", got)
	}
	u := rec.all()[1]
	if !strings.HasPrefix(u.Output, "HTTP GET "+web.URL+"/health: 503 Service Unavailable Output: hit ") {
		t.Fatalf("output %q", u.Output)
	}
	waitFor(t, "db probed", func() bool { return strings.Contains(mustGet(t, r, "db").Output, "connection refused") })

	states := r.States()
	if len(states) != 2 || states[0].ID != "db" || states[1].ID != "web" || states[0].ServiceID != "db-1" {
		t.Fatalf("States: %+v", states)
	}
	if d := states[1].Definition; d.Method != "GET" || d.Timeout.Std() != 5*time.Second || d.Status != rpc.HealthCritical {
		t.Fatalf("definition not normalized: %+v", d)
	}
	if rec := rec.statuses("db"); len(rec) != 0 {
		t.Fatalf("db notified %v", rec)
	}
}

// Add with the same definition keeps the schedule; a changed one restarts
// it and keeps the status.
func TestAddReplace(t *testing.T) {
	srv := newSwitchServer(t, 200)
	clk := newFakeClock()
	rec := &recorder{}
	r := newRunner(t, Config{Clock: clk, Notify: rec.notify})
	def := httpCheck("web", srv.URL, time.Second)
	def.Header = map[string][]string{"x-a": {"1"}}
	mustAdd(t, r, def)
	clk.waitArmed(t, 1)
	clk.step(t, time.Second, 1)
	before := mustGet(t, r, "web")
	created := clk.numCreated()

	same := def
	same.Header = map[string][]string{"X-A": {"1"}} // the same once normalized
	mustAdd(t, r, same)
	if clk.numCreated() != created {
		t.Fatal("an unchanged definition restarted the check")
	}

	changed := def
	changed.Notes = "now with notes"
	mustAdd(t, r, changed)
	waitFor(t, "a new schedule", func() bool { return clk.numCreated() == created+1 })
	after := mustGet(t, r, "web")
	if after.Status != before.Status || after.Output != before.Output || !after.Since.Equal(before.Since) || after.Definition.Notes != "now with notes" {
		t.Fatalf("state not carried over: %+v then %+v", before, after)
	}
	clk.waitArmed(t, 1)
	srv.code.Store(500)
	clk.step(t, time.Second, 1)
	if st := mustGet(t, r, "web"); st.Status != rpc.HealthCritical {
		t.Fatalf("replaced check not running: %s", st.Status)
	}
	flushNotify(t, r)
	if got := rec.statuses("web"); !reflect.DeepEqual(got, []string{rpc.HealthPassing, rpc.HealthCritical}) {
		t.Fatalf("notified %v", got)
	}
	if clk.numCreated() != created+1 {
		t.Fatalf("%d schedules started by two Adds, want 1", clk.numCreated()-created)
	}

	// The state handed out is a copy.
	st := mustGet(t, r, "web")
	st.Definition.Header["X-A"][0] = "changed"
	if mustGet(t, r, "web").Definition.Header["X-A"][0] != "1" {
		t.Fatal("State shares the definition's header")
	}
}

func TestAddErrors(t *testing.T) {
	r := newRunner(t, Config{MinInterval: time.Second})
	cases := []struct {
		name string
		def  rpc.CheckDefinition
		want error
		text string
	}{
		{"id missing", rpc.CheckDefinition{Name: "web", Kind: rpc.CheckTTL, TTL: dur(time.Minute)}, ErrInvalidDefinition, `check "web": field "id": is missing`},
		{"invalid", rpc.CheckDefinition{ID: "web", Name: "web", Kind: rpc.CheckHTTP, Interval: dur(time.Second)}, ErrInvalidDefinition, `field "http"`},
		{"under the runner's minimum", rpc.CheckDefinition{ID: "t", Name: "t", Kind: rpc.CheckTTL, TTL: dur(100 * time.Millisecond)}, ErrInvalidDefinition, "100ms is under the minimum of 1s"},
		{"wasm without a module source", rpc.CheckDefinition{ID: "w", Name: "w", Kind: rpc.CheckWASM, Module: "m", Interval: dur(time.Second)}, ErrUnsupportedKind, "wasm"},
		{"wasm without a module", rpc.CheckDefinition{ID: "w", Name: "w", Kind: rpc.CheckWASM, Interval: dur(time.Second)}, ErrInvalidDefinition, `field "module": is missing`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Add(tc.def)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.text)
			}
		})
	}
	if len(r.States()) != 0 {
		t.Fatal("a refused check was added")
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value takes the defaults", Config{}, true},
		{"defaults", DefaultConfig(), true},
		{"MaxOutput too small", Config{MaxOutput: 10}, false},
		{"MaxOutput over the servers' limit", Config{MaxOutput: rpc.MaxCheckOutput + 1}, false},
		{"MinInterval negative", Config{MinInterval: -time.Second}, false},
		{"UserAgent with a newline", Config{UserAgent: "a\nb"}, false},
		{"MaxWASMRuns negative", Config{MaxWASMRuns: -1}, false},
		{"MaxWASMRuns too many", Config{MaxWASMRuns: maxMaxWASMRuns + 1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			r, err := New(cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("New: %v", err)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: %v, want ErrInvalidConfig", err)
			}
			if r != nil {
				r.Close()
				if r.cfg.MaxOutput != DefaultMaxOutput || r.cfg.MinInterval != time.Second || r.cfg.UserAgent != "Meridian Health Check" ||
					r.cfg.MaxWASMRuns != min(2*runtime.GOMAXPROCS(0), maxMaxWASMRuns) || cap(r.wasmSlots) != r.cfg.MaxWASMRuns {
					t.Fatalf("defaults not applied: %+v", r.cfg)
				}
			}
		})
	}
}

var _ io.Writer = testWriter{}
