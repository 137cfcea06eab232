package checks

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/rpc"
)

// Update is a status change of one check, with the output that came with
// it.
type Update struct {
	ID     string
	Status string
	Output string
}

// State is a check's current state.
type State struct {
	ID        string
	ServiceID string
	Status    string
	Output    string
	// Since is when Status began (by Config.Clock): when the check was
	// added, or its last status change.
	Since      time.Time
	Definition rpc.CheckDefinition // normalized
}

// Limits of Config.MaxOutput.
const (
	DefaultMaxOutput = 4096 // bytes, as Consul
	minMaxOutput     = 128  // room for the truncation note
	// maxMaxOutput is the servers' limit: longer outputs would be cut by
	// them, without a note and maybe inside a UTF-8 sequence.
	maxMaxOutput = rpc.MaxCheckOutput
)

// Config configures a Runner. Zero fields take DefaultConfig's values.
type Config struct {
	// MaxOutput caps a check's output in bytes; longer output is cut on a
	// UTF-8 boundary and ends with a note saying so. An http check reads
	// at most this much of the response body. At most rpc.MaxCheckOutput
	// (4096), the servers' limit.
	MaxOutput int
	// MinInterval is the smallest interval and ttl Add accepts
	// (DefaultMinInterval, 1s). Tests lower it; there is no reason to in
	// production.
	MinInterval time.Duration
	// Notify, if set, is called with each status change, after the
	// thresholds (success_before_passing, failures_before_critical) and
	// never for output-only changes. Calls come from one goroutine of the
	// runner, one at a time, each check's in order. A change still queued
	// when its check changes again is replaced by the newer one, or
	// dropped if the check is back to the status Notify last saw.
	// A slow Notify delays only other notifications, never a probe. Add,
	// Remove and UpdateTTL never wait for Notify, so a caller may hold a
	// lock that Notify takes while calling them; Close does wait for a
	// call in progress. Notify may call Add, Remove, UpdateTTL, Get and
	// States, but not Close. After Remove(id) returns, at most one call
	// for id may still be in progress.
	Notify func(Update)
	// Logger gets status changes (info) and missed TTLs (warn).
	Logger *slog.Logger
	// Clock drives the schedule and TTLs (SystemClock).
	Clock Clock
	// HTTPClient, if set, is the base of the http checks' clients: see
	// newHTTPClients. Its Timeout is ignored (each check has its own).
	HTTPClient *http.Client
	// UserAgent is sent by http checks that set no User-Agent header.
	UserAgent string
	// Modules gives wasm checks their modules. Without it, Add refuses
	// wasm checks with ErrUnsupportedKind.
	Modules ModuleSource
	// MaxWASMRuns bounds the wasm runs in progress at once, all checks
	// together (default 2 × GOMAXPROCS, at most 1024): a run is CPU work.
	// A probe waits for a slot within its timeout; when the timeout ends
	// first the check is critical, "timed out ... waiting for a WASM slot".
	MaxWASMRuns int
}

// maxMaxWASMRuns bounds Config.MaxWASMRuns.
const maxMaxWASMRuns = 1024

// DefaultConfig returns the defaults: output capped at 4 KiB, minimum
// interval 1s, real time, slog.Default, User-Agent "Meridian Health
// Check", 2 × GOMAXPROCS wasm runs at once, and no Notify or Modules.
func DefaultConfig() Config {
	return Config{
		MaxOutput:   DefaultMaxOutput,
		MinInterval: DefaultMinInterval,
		Logger:      slog.Default(),
		Clock:       SystemClock,
		UserAgent:   "Meridian Health Check",
		MaxWASMRuns: min(2*runtime.GOMAXPROCS(0), maxMaxWASMRuns),
	}
}

// Validate checks the ranges of c's fields; zero fields are refused (New
// fills them first).
func (c Config) Validate() error {
	switch {
	case c.MaxOutput < minMaxOutput || c.MaxOutput > maxMaxOutput:
		return fmt.Errorf("%w: MaxOutput %d is outside %d..%d", ErrInvalidConfig, c.MaxOutput, minMaxOutput, maxMaxOutput)
	case c.MinInterval <= 0 || c.MinInterval > time.Hour:
		return fmt.Errorf("%w: MinInterval %s is outside (0, 1h]", ErrInvalidConfig, c.MinInterval)
	case c.Logger == nil:
		return fmt.Errorf("%w: Logger is nil", ErrInvalidConfig)
	case c.Clock == nil:
		return fmt.Errorf("%w: Clock is nil", ErrInvalidConfig)
	case c.UserAgent == "" || !validHeaderValue(c.UserAgent):
		return fmt.Errorf("%w: UserAgent %q is not a header value", ErrInvalidConfig, c.UserAgent)
	case c.MaxWASMRuns < 1 || c.MaxWASMRuns > maxMaxWASMRuns:
		return fmt.Errorf("%w: MaxWASMRuns %d is outside 1..%d", ErrInvalidConfig, c.MaxWASMRuns, maxMaxWASMRuns)
	}
	return nil
}

// Runner runs the checks of one node: each check on its own goroutine, so
// a slow check never delays another. Build it with New, stop it with
// Close. Its methods are safe for concurrent use.
type Runner struct {
	cfg          Config
	log          *slog.Logger
	clock        Clock
	httpClient   *http.Client // verifies TLS certificates
	httpInsecure *http.Client // for tls_skip_verify
	transports   []*http.Transport
	notes        *notifier     // nil without Config.Notify
	wasmSlots    chan struct{} // a value per wasm run in progress, Config.MaxWASMRuns at most

	probes atomic.Uint64 // probes completed, for benchmarks and metrics

	mu     sync.Mutex
	checks map[string]*check
	closed bool
	stop   chan struct{} // closed by Close
	wg     sync.WaitGroup

	closeOnce sync.Once
}

// check is one running check. def, prober, cancel, done and reset never
// change; a changed definition makes a new check.
type check struct {
	def    rpc.CheckDefinition // normalized
	prober prober              // nil for ttl
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
	reset  chan struct{} // ttl: buffered(1), UpdateTTL moved the deadline

	// Guarded by Runner.mu.
	status, output      string
	since               time.Time
	successes, failures int       // consecutive results, for the thresholds
	ttlDeadline         time.Time // ttl only
}

// New returns a Runner with no checks. cfg is copied; its zero fields take
// DefaultConfig's values.
func New(cfg Config) (*Runner, error) {
	def := DefaultConfig()
	if cfg.MaxOutput == 0 {
		cfg.MaxOutput = def.MaxOutput
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = def.MinInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = def.Clock
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = def.UserAgent
	}
	if cfg.MaxWASMRuns == 0 {
		cfg.MaxWASMRuns = def.MaxWASMRuns
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "checks"),
		clock:     cfg.Clock,
		checks:    map[string]*check{},
		stop:      make(chan struct{}),
		wasmSlots: make(chan struct{}, cfg.MaxWASMRuns),
	}
	r.httpClient, r.httpInsecure, r.transports = newHTTPClients(cfg.HTTPClient)
	if cfg.Notify != nil {
		r.notes = newNotifier(cfg.Notify)
		r.mu.Lock()
		r.goLocked(func() { r.notes.run(r.stop) })
		r.mu.Unlock()
	}
	return r, nil
}

// goLocked runs f on a goroutine owned by r.wg, unless Close has begun.
// r.mu must be held.
func (r *Runner) goLocked(f func()) bool {
	if r.closed {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return true
}

// Add validates def (which must have an ID: the agent assigns them),
// normalizes it and starts running it. A check with the same ID is
// replaced: if the definition is unchanged nothing happens; otherwise the
// old check is stopped (Add waits for it) and the new one starts with the
// old one's status, output and Since, fresh threshold counters, a new
// schedule and, for ttl, a new TTL. A new check starts with its initial
// status; Notify is not called for it.
func (r *Runner) Add(def rpc.CheckDefinition) error {
	if def.ID == "" {
		return &FieldError{Check: clip(def.Name), Field: "id", Problem: "is missing (the agent assigns IDs)"}
	}
	if err := validate(def, r.cfg.MinInterval); err != nil {
		return err
	}
	def = Normalize(def)
	spec, ok := kinds[def.Kind]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnsupportedKind, def.Kind)
	}
	var p prober
	if spec.newProber != nil {
		var err error
		if p, err = spec.newProber(r, def); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &check{def: def, prober: p, cancel: cancel, done: make(chan struct{}), reset: make(chan struct{}, 1)}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		return ErrClosed
	}
	old := r.checks[def.ID]
	if old != nil && reflect.DeepEqual(old.def, def) {
		r.mu.Unlock()
		cancel()
		return nil
	}
	now := r.clock.Now()
	if old != nil {
		c.status, c.output, c.since = old.status, old.output, old.since
		old.cancel()
	} else {
		c.status, c.since = def.Status, now
		r.notes.track(def.ID, def.Status)
	}
	// As Consul: the counters start at their thresholds, so the first
	// result takes effect at once (see record).
	c.successes, c.failures = def.SuccessBeforePassing, def.FailuresBeforeCritical
	if def.Kind == rpc.CheckTTL {
		c.ttlDeadline = now.Add(def.TTL.Std())
	}
	r.checks[def.ID] = c
	r.goLocked(func() { r.run(ctx, c) })
	r.mu.Unlock()

	if old != nil {
		<-old.done
	}
	return nil
}

// Remove stops a check and forgets it; it returns once the check's
// goroutine has returned (an in-flight probe is cancelled), and reports
// whether the check existed. A change of the check not yet delivered to
// Notify is dropped.
func (r *Runner) Remove(id string) bool {
	r.mu.Lock()
	c := r.checks[id]
	if c == nil {
		r.mu.Unlock()
		return false
	}
	delete(r.checks, id)
	r.notes.forget(id)
	c.cancel()
	r.mu.Unlock()
	<-c.done
	return true
}

// Get returns a check's state.
func (r *Runner) Get(id string) (State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.checks[id]
	if c == nil {
		return State{}, false
	}
	return c.stateLocked(), true
}

// States returns the state of every check, sorted by ID.
func (r *Runner) States() []State {
	r.mu.Lock()
	out := make([]State, 0, len(r.checks))
	for _, c := range r.checks {
		out = append(out, c.stateLocked())
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b State) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (c *check) stateLocked() State {
	def := c.def
	def.Header = canonicalHeader(def.Header) // copies the caller may change
	def.Args, def.Grants = cloneArgs(def.Args), cloneGrants(def.Grants)
	return State{
		ID:         def.ID,
		ServiceID:  def.ServiceID,
		Status:     c.status,
		Output:     c.output,
		Since:      c.since,
		Definition: def,
	}
}

// Close stops every check and the notifier and waits for their goroutines
// (in-flight probes are cancelled). Changes not yet delivered to Notify
// are dropped. Later calls to Add and UpdateTTL return ErrClosed. Close is
// safe to call more than once and from several goroutines; each call
// returns once everything has stopped. It must not be called from Notify.
func (r *Runner) Close() {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		for id, c := range r.checks {
			c.cancel()
			delete(r.checks, id)
		}
		close(r.stop)
		r.mu.Unlock()
		r.wg.Wait()
		for _, t := range r.transports {
			t.CloseIdleConnections()
		}
	})
}

// run is a check's goroutine.
func (r *Runner) run(ctx context.Context, c *check) {
	defer close(c.done)
	if c.prober == nil {
		r.runTTL(ctx, c)
		return
	}
	r.runPeriodic(ctx, c)
}

// runPeriodic probes a check every interval, measured from the end of the
// previous probe, after a first wait drawn uniformly from [0, interval)
// so that checks added together (at start-up) spread out, as Consul does.
func (r *Runner) runPeriodic(ctx context.Context, c *check) {
	interval, timeout := c.def.Interval.Std(), c.def.Timeout.Std()
	t := r.clock.NewTimer(rand.N(interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		start := r.clock.Now()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		res := c.prober.probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return // removed or replaced: the result is not about this check any more
		}
		r.probes.Add(1)
		r.record(c, res)
		t.Reset(nextRun(start, r.clock.Now(), interval))
	}
}

// wakeGrid is the grid the runs of periodic checks are aligned to. Every
// run is a goroutine woken by its own timer; on a VM an idle thread woken
// for one costs more CPU than the run itself. Checks whose runs fall in
// the same 50 ms slot wake together, at the cost of starting a run up to
// 50 ms late.
const wakeGrid = 50 * time.Millisecond

// nextRun is the wait from now until the next run of a check whose run
// started at start: one interval after it, rounded up to wakeGrid.
func nextRun(start, now time.Time, interval time.Duration) time.Duration {
	at := start.Add(interval)
	if rem := at.UnixNano() % int64(wakeGrid); rem != 0 {
		at = at.Add(wakeGrid - time.Duration(rem))
	}
	return max(at.Sub(now), 0)
}

// record applies a probe's result through the thresholds, as Consul's
// StatusHandler: passing and warning results count as successes, critical
// ones as failures; each resets the other count. A success takes effect
// once success_before_passing successes have come in a row, a failure once
// failures_before_critical failures have; until then the result changes
// nothing, output included. The counts start at their thresholds, so the
// first result after Add takes effect at once: the initial status is a
// placeholder, not an observation to damp against.
func (r *Runner) record(c *check, res result) {
	out := capOutput(res.output, r.cfg.MaxOutput)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checks[c.def.ID] != c {
		return
	}
	if res.status == rpc.HealthPassing || res.status == rpc.HealthWarning {
		c.failures = 0
		if c.successes < c.def.SuccessBeforePassing {
			c.successes++
		}
		if c.successes < c.def.SuccessBeforePassing {
			r.log.Debug("check result held back", "check", c.def.ID, "status", res.status,
				"successes", c.successes, "success_before_passing", c.def.SuccessBeforePassing)
			return
		}
	} else {
		c.successes = 0
		if c.failures < c.def.FailuresBeforeCritical {
			c.failures++
		}
		if c.failures < c.def.FailuresBeforeCritical {
			r.log.Debug("check result held back", "check", c.def.ID, "status", res.status,
				"failures", c.failures, "failures_before_critical", c.def.FailuresBeforeCritical)
			return
		}
	}
	r.setLocked(c, res.status, out, r.clock.Now())
}

// setLocked sets a check's status and output and queues a notification if
// the status changed. r.mu must be held.
func (r *Runner) setLocked(c *check, status, output string, now time.Time) {
	c.output = output
	if status == c.status {
		return
	}
	r.log.Info("check status changed", "check", c.def.ID, "from", c.status, "to", status)
	c.status, c.since = status, now
	r.notes.push(Update{ID: c.def.ID, Status: status, Output: output})
}
