package checks

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/integration/freeport"
	"meridian/rpc"
)

// fakeClock is a Clock the test moves by hand. Its timers fire, in
// Advance, when their time has come; Stop and Reset drop a value not yet
// received, as Go's timers do.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	armed   map[*fakeTimer]struct{}
	created int // timers made, for telling whether a schedule restarted
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), armed: map[*fakeTimer]struct{}{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.created++
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.armed {
		if !t.when.After(c.now) {
			delete(c.armed, t)
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

func (c *fakeClock) numArmed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.armed)
}

func (c *fakeClock) numCreated() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.created
}

// waitArmed waits until n timers are armed: every check is waiting for
// its next turn (a periodic check re-arms only after recording a result).
func (c *fakeClock) waitArmed(t testing.TB, n int) {
	t.Helper()
	waitFor(t, "armed timers", func() bool { return c.numArmed() >= n })
}

// step moves the clock by d and waits until n timers are armed again.
func (c *fakeClock) step(t testing.TB, d time.Duration, n int) {
	t.Helper()
	c.Advance(d)
	c.waitArmed(t, n)
}

type fakeTimer struct {
	c    *fakeClock
	ch   chan time.Time
	when time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, was := t.c.armed[t]
	delete(t.c.armed, t)
	select {
	case <-t.ch:
	default:
	}
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, was := t.c.armed[t]
	delete(t.c.armed, t)
	select {
	case <-t.ch:
	default:
	}
	t.when = t.c.now.Add(d)
	if d <= 0 {
		t.ch <- t.c.now
	} else {
		t.c.armed[t] = struct{}{}
	}
	return was
}

// waitFor waits for cond with a deadline, polling.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// testLogger sends logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// recorder collects notifications.
type recorder struct {
	mu      sync.Mutex
	updates []Update
}

func (rec *recorder) notify(u Update) {
	rec.mu.Lock()
	rec.updates = append(rec.updates, u)
	rec.mu.Unlock()
}

func (rec *recorder) all() []Update {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Update(nil), rec.updates...)
}

func (rec *recorder) statuses(id string) []string {
	var out []string
	for _, u := range rec.all() {
		if u.ID == id {
			out = append(out, u.Status)
		}
	}
	return out
}

// newRunner makes a runner for a test, closed at its end. Zero Config
// fields: logs to t, MinInterval 10ms.
func newRunner(t testing.TB, cfg Config) *Runner {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = 10 * time.Millisecond
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// flushNotify waits until every queued change has been delivered.
func flushNotify(t testing.TB, r *Runner) {
	t.Helper()
	waitFor(t, "notifications delivered", r.notes.idle)
}

func mustAdd(t testing.TB, r *Runner, def rpc.CheckDefinition) {
	t.Helper()
	if err := r.Add(def); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t testing.TB, r *Runner, id string) State {
	t.Helper()
	st, ok := r.Get(id)
	if !ok {
		t.Fatalf("no check %q", id)
	}
	return st
}

// probeOnce runs one probe of def as the runner would.
func probeOnce(t testing.TB, r *Runner, def rpc.CheckDefinition) result {
	t.Helper()
	if err := validate(def, r.cfg.MinInterval); err != nil {
		t.Fatal(err)
	}
	def = Normalize(def)
	p, err := kinds[def.Kind].newProber(r, def)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), def.Timeout.Std())
	defer cancel()
	res := p.probe(ctx)
	res.output = capOutput(res.output, r.cfg.MaxOutput)
	return res
}

// closedAddr is a loopback address nothing listens on (outside the
// ephemeral range, so no other test's listener takes it meanwhile).
func closedAddr(t testing.TB) string { return freeport.Addr(t) }

// goroutines lists the goroutines with a frame holding one of the
// patterns.
func goroutines(patterns ...string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, p := range patterns {
			if strings.Contains(g, p) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// runnerFrames match the goroutines a Runner starts: its checks and its
// notifier.
var runnerFrames = []string{"meridian/checks.(*Runner)", "meridian/checks.(*notifier)"}

// exiting reports whether goroutine dump g (from goroutines) is a
// Runner-owned goroutine whose work has returned: the only Runner frame
// left is goLocked's wrapper, running its deferred wg.Done.
func exiting(g string) bool {
	for line := range strings.SplitSeq(g, "\n") {
		if strings.HasPrefix(line, "created by ") || strings.Contains(line, "(*Runner).goLocked.func1(") {
			continue
		}
		for _, p := range runnerFrames {
			if strings.Contains(line, p) {
				return false
			}
		}
	}
	return true
}

// connFrames match the goroutines of HTTP client connections, which
// net/http ends on its own shortly after a response is closed.
const connFrames = "net/http.(*persistConn)"

func dur(d time.Duration) rpc.Duration { return rpc.Duration(d) }
