package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// KV is what a load needs of a store. Implementations must be safe for
// concurrent use: every worker calls them at once.
type KV interface {
	// Put writes value under key.
	Put(ctx context.Context, key string, value []byte) error
	// Get reads key; a missing key is not an error.
	Get(ctx context.Context, key string) error
}

// Operations a load is made of.
const (
	OpPut   = "put"
	OpGet   = "get"
	OpMixed = "mixed" // gets and puts, ReadRatio of them gets
)

// Consistency modes a store may offer its reads.
const (
	ConsistencyDefault = "default" // linearizable
	ConsistencyStale   = "stale"   // a local replica, possibly behind
)

// Limits that keep a run bounded whatever the flags say.
const (
	MaxDuration = time.Hour
	MaxClients  = 4096
	MaxKeys     = 10_000_000
	MaxValue    = 512 << 10
)

// Config of a load. Start from DefaultConfig.
type Config struct {
	// Op is OpPut, OpGet or OpMixed.
	Op string
	// Clients is the number of concurrent closed-loop workers.
	Clients int
	// ValueSize is the size of every value written, in bytes.
	ValueSize int
	// Keys is the size of the key space; every operation picks a key at
	// random (uniformly) in it.
	Keys int
	// Duration of the measured phase (after the key space is populated).
	Duration time.Duration
	// MaxOps stops the measured phase after this many operations even if
	// Duration has not run out; 0 means no limit but Duration.
	MaxOps int64
	// ReadRatio is the share of gets in a mixed load, 0 to 1.
	ReadRatio float64
	// Consistency of the reads: ConsistencyDefault or ConsistencyStale.
	// The store's KV implements it; Run only checks the name.
	Consistency string
	// Prefix starts every key. With Folders > 1 the keys are spread over
	// that many top-level folders named after the prefix: "bench/" and 4
	// folders make bench0/, bench1/, bench2/ and bench3/.
	Prefix  string
	Folders int
	// OpTimeout bounds each operation.
	OpTimeout time.Duration
	// JSON selects the machine-readable result (for the caller to honour:
	// Run does not print the result).
	JSON bool
	// ErrorCode names the class of a failed operation, for the count of
	// errors by code; nil classifies context errors and calls the rest
	// "error".
	ErrorCode func(error) string
	// Progress receives a line each second (and the populate progress);
	// nil discards them.
	Progress io.Writer
}

// DefaultConfig is a 10 s put load from 64 clients over 10,000 keys of
// 128-byte values under "bench/".
func DefaultConfig() Config {
	return Config{
		Op:          OpPut,
		Clients:     64,
		ValueSize:   128,
		Keys:        10_000,
		Duration:    10 * time.Second,
		MaxOps:      10_000_000,
		ReadRatio:   0.9,
		Consistency: ConsistencyDefault,
		Prefix:      "bench/",
		Folders:     1,
		OpTimeout:   10 * time.Second,
	}
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	switch {
	case c.Op != OpPut && c.Op != OpGet && c.Op != OpMixed:
		return fmt.Errorf("loadgen: -op %q: want put, get or mixed", c.Op)
	case c.Clients < 1 || c.Clients > MaxClients:
		return fmt.Errorf("loadgen: -clients %d: want 1-%d", c.Clients, MaxClients)
	case c.ValueSize < 0 || c.ValueSize > MaxValue:
		return fmt.Errorf("loadgen: -value-size %d: want 0-%d", c.ValueSize, MaxValue)
	case c.Keys < 1 || c.Keys > MaxKeys:
		return fmt.Errorf("loadgen: -keys %d: want 1-%d", c.Keys, MaxKeys)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("loadgen: -duration %s: want more than 0 and at most %s", c.Duration, MaxDuration)
	case c.MaxOps < 0:
		return fmt.Errorf("loadgen: -max-ops %d: must not be negative", c.MaxOps)
	case c.ReadRatio < 0 || c.ReadRatio > 1:
		return fmt.Errorf("loadgen: -read-ratio %g: want 0 to 1", c.ReadRatio)
	case c.Consistency != ConsistencyDefault && c.Consistency != ConsistencyStale:
		return fmt.Errorf("loadgen: -consistency %q: want default or stale", c.Consistency)
	case c.Folders < 1 || c.Folders > c.Keys:
		return fmt.Errorf("loadgen: -folders %d: want 1 to -keys (%d)", c.Folders, c.Keys)
	case c.OpTimeout <= 0:
		return errors.New("loadgen: the operation timeout must be positive")
	}
	if c.Folders > 1 && strings.Contains(strings.TrimSuffix(c.Prefix, "/"), "/") {
		return fmt.Errorf("loadgen: -prefix %q: with -folders the prefix names the folders, so it may not contain a '/' but at its end", c.Prefix)
	}
	return nil
}

// FolderNames lists the top-level folders the keys are spread over.
func (c Config) FolderNames() []string {
	if c.Folders <= 1 {
		return []string{c.Prefix}
	}
	base := strings.TrimSuffix(c.Prefix, "/")
	out := make([]string, c.Folders)
	for i := range out {
		out[i] = base + strconv.Itoa(i) + "/"
	}
	return out
}

// KeyNames lists the key space: key i lives in folder i mod Folders.
func (c Config) KeyNames() []string {
	folders := c.FolderNames()
	width := len(strconv.Itoa(c.Keys - 1))
	out := make([]string, c.Keys)
	for i := range out {
		out[i] = fmt.Sprintf("%sk%0*d", folders[i%len(folders)], width, i)
	}
	return out
}

// CheckLoopback refuses an address that is not on this machine's loopback
// (127.0.0.0/8, ::1 or localhost): a load generator aims at test clusters
// on the same host. addr is host:port or a URL.
func CheckLoopback(addr string) error {
	host := addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return fmt.Errorf("loadgen: address %q: %w", addr, err)
		}
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("loadgen: address %q is not a loopback address: the load generator only targets agents on this machine (127.0.0.1, ::1, localhost)", addr)
}

// RoundRobin hands out its clients in turn; safe for concurrent use.
type RoundRobin[C any] struct {
	Clients []C
	next    atomic.Uint64
}

// Next returns the next client.
func (r *RoundRobin[C]) Next() C {
	return r.Clients[(r.next.Add(1)-1)%uint64(len(r.Clients))]
}

// Targets splits a comma-separated list of addresses, refusing any that is
// not on loopback (see CheckLoopback) and an empty list.
func Targets(list string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if err := CheckLoopback(a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("loadgen: no address given")
	}
	return out, nil
}

// DefaultErrorCode classifies context errors and calls the rest "error".
func DefaultErrorCode(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// Run populates the key space (for get and mixed loads), then runs the load
// for cfg.Duration or cfg.MaxOps operations, whichever ends first, and
// returns what it measured. Operations in flight when the time runs out
// are waited for and counted. Run fails only when cfg is invalid, the
// key space cannot be populated, or ctx ends first.
func Run(ctx context.Context, cfg Config, kv KV) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ErrorCode == nil {
		cfg.ErrorCode = DefaultErrorCode
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	keys := cfg.KeyNames()
	value := makeValue(cfg.ValueSize)
	if cfg.Op != OpPut {
		if err := populate(ctx, cfg, kv, keys, value); err != nil {
			return nil, err
		}
	}
	return measure(ctx, cfg, kv, keys, value)
}

// makeValue returns printable bytes that do not compress to nothing.
func makeValue(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// populate writes every key once, Clients at a time, retrying each key a
// few times before giving up on the run.
func populate(ctx context.Context, cfg Config, kv KV, keys []string, value []byte) error {
	const attempts = 5
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Clients, len(keys)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(keys)) || ctx.Err() != nil {
					return
				}
				var err error
				for a := 0; a < attempts; a++ {
					octx, ocancel := context.WithTimeout(ctx, cfg.OpTimeout)
					err = kv.Put(octx, keys[i], value)
					ocancel()
					if err == nil || ctx.Err() != nil {
						break
					}
					select {
					case <-ctx.Done():
					case <-time.After(time.Duration(a+1) * 50 * time.Millisecond):
					}
				}
				if err != nil {
					cancel(fmt.Errorf("loadgen: populating %q failed %d times: %w", keys[i], attempts, err))
					return
				}
				done.Add(1)
			}
		})
	}
	stopProgress := every(time.Second, func() {
		fmt.Fprintf(cfg.Progress, "populating: %d/%d keys\n", done.Load(), len(keys))
	})
	wg.Wait()
	stopProgress()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Progress, "populated %d keys in %s\n", len(keys), time.Since(start).Round(time.Millisecond))
	return nil
}

// every calls f each period on a goroutine of its own until the returned
// stop is called; stop waits for it to end.
func every(period time.Duration, f func()) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				f()
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// recorder gathers latencies and errors from every worker.
type recorder struct {
	ops, errs atomic.Int64

	mu     sync.Mutex
	hists  map[string]*histogram
	byCode map[string]int64
}

// sample is one operation's outcome, buffered by a worker.
type sample struct {
	op      string
	latency time.Duration
	code    string // "" when it succeeded
}

func (r *recorder) flush(batch []sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range batch {
		if s.code != "" {
			r.byCode[s.code]++
			continue
		}
		h := r.hists[s.op]
		if h == nil {
			h = newHistogram()
			r.hists[s.op] = h
		}
		h.record(s.latency)
	}
}

func measure(ctx context.Context, cfg Config, kv KV, keys []string, value []byte) (*Result, error) {
	rec := &recorder{hists: map[string]*histogram{}, byCode: map[string]int64{}}
	var stopping atomic.Bool
	var issued atomic.Int64
	start := time.Now()
	timer := time.AfterFunc(cfg.Duration, func() { stopping.Store(true) })
	defer timer.Stop()

	var wg sync.WaitGroup
	for w := range cfg.Clients {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w)+1, uint64(start.UnixNano())))
			batch := make([]sample, 0, 64)
			for !stopping.Load() && ctx.Err() == nil {
				if cfg.MaxOps > 0 && issued.Add(1) > cfg.MaxOps {
					stopping.Store(true)
					break
				}
				key := keys[rnd.IntN(len(keys))]
				op := cfg.Op
				if op == OpMixed {
					op = OpPut
					if rnd.Float64() < cfg.ReadRatio {
						op = OpGet
					}
				}
				octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
				t0 := time.Now()
				var err error
				if op == OpGet {
					err = kv.Get(octx, key)
				} else {
					err = kv.Put(octx, key, value)
				}
				lat := time.Since(t0)
				cancel()
				s := sample{op: op, latency: lat}
				if err != nil {
					if ctx.Err() != nil {
						break // the caller gave up: not the store's error
					}
					s.code = cfg.ErrorCode(err)
					rec.errs.Add(1)
				} else {
					rec.ops.Add(1)
				}
				batch = append(batch, s)
				if len(batch) == cap(batch) {
					rec.flush(batch)
					batch = batch[:0]
				}
			}
			rec.flush(batch)
		})
	}

	var lastOps int64
	var tick int
	stopProgress := every(time.Second, func() {
		tick++
		ops, errs := rec.ops.Load(), rec.errs.Load()
		secs := time.Since(start).Seconds()
		fmt.Fprintf(cfg.Progress, "[%3ds] %9.0f ops/s  (average %.0f ops/s, %d ops, %d errors)\n",
			tick, float64(ops-lastOps), float64(ops)/secs, ops, errs)
		lastOps = ops
	})
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: run interrupted after %s: %w", elapsed.Round(time.Millisecond), err)
	}
	return newResult(cfg, elapsed, rec), nil
}
