package gossip

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

var (
	simMembers  = flag.Int("gossip.members", 64, "members in TestSim (try 1000, without -race)")
	simWindow   = flag.Duration("gossip.window", 3*time.Second, "steady-state window over which TestSim measures CPU")
	simProfile  = flag.String("gossip.profile", ProfileLocal, "profile of the members in TestSim")
	simGOGC     = flag.Int("gossip.gogc", 0, "GOGC for TestSim if not 0: one process holds every member's view of every member")
	simCompress = flag.Bool("gossip.compress", true, "leave memberlist's compression on in TestSim (the default of every profile)")
)

// TestSim runs a pool of -gossip.members members in this process (local
// profile by default, loopback), measures the CPU it uses in steady state,
// then closes one member and measures how long each other member takes to
// see it fail. For figures not disturbed by other tests run it alone:
//
//	go test ./edge/gossip -run TestSim -v -timeout 60m -gossip.members=300 -gossip.window=10s
//
// One process is not a cluster: every member shares the process's CPUs,
// scheduler and heap, and memberlist's timeouts (200 ms probes in the local
// profile) assume a member gets the CPU when it needs it. On 2 cores the
// pool collapses under its own join traffic at about 400 members (the
// progress lines show scheduler latency rising, then false failures); the
// test then fails and says so.
func TestSim(t *testing.T) {
	t.Parallel()
	n := *simMembers
	if raceEnabled && !flagSet("gossip.members") {
		n = 16 // the race detector makes each member several times slower
	}
	if n < 3 {
		t.Fatalf("-gossip.members=%d: need at least 3", n)
	}
	if raceEnabled && n > 300 { // about 10 goroutines per member
		t.Skipf("the race detector allows 8128 goroutines; run -gossip.members=%d without -race", n)
	}
	ensureFileLimit(t, uint64(4*n+512)) // a UDP and a TCP listener per member, plus streams
	if *simGOGC != 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(*simGOGC))
	}

	victim := fmt.Sprintf("m%04d", n/2)
	failedAt := make([]atomic.Int64, n) // when member i saw the victim fail, unix ns
	var falseFailures, leaves atomic.Int64
	pools := make([]*Pool, n)
	t.Cleanup(func() { closeAll(pools) })
	logs := &logCounter{}
	logger := slog.New(logs)
	t.Cleanup(func() {
		if p := logs.topProblems(); t.Failed() && p != "" {
			t.Logf("memberlist warnings and errors:\n\t%s", p)
		}
	})

	// Start the members, then have each join a random member that already
	// joined.
	start := time.Now()
	parallel(n, 8, func(i int) error {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("m%04d", i)
		cfg.BindAddr = "127.0.0.1:0"
		cfg.Profile = *simProfile
		cfg.Label = "meridian-sim"
		cfg.Meta = testMeta(cfg.Name, RoleEdge)
		cfg.tune = func(mc *memberlist.Config) { mc.EnableCompression = *simCompress }
		cfg.Logger = logger
		cfg.Events = func(e Event) {
			switch {
			case e.Kind == EventFailed && e.Member.Name == victim:
				failedAt[i].CompareAndSwap(0, time.Now().UnixNano())
			case e.Kind == EventFailed:
				falseFailures.Add(1)
			case e.Kind == EventLeave:
				leaves.Add(1)
			}
		}
		p, err := New(cfg)
		pools[i] = p
		return err
	}, t)
	ctx := ctxTimeout(t, time.Hour)
	if n > 100 { // progress report every 10 s
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Second)
			defer tick.Stop()
			c0, w0, l0 := cpuTime(t), time.Now(), schedLatencies()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				c1, w1, l1 := cpuTime(t), time.Now(), schedLatencies()
				alive := 0
				for _, p := range pools {
					alive += p.NumAlive()
				}
				t.Logf("%v: CPU %.2f cores, sched p99 %v, mean members seen %.1f; %v", time.Since(start).Round(time.Second),
					float64(c1-c0)/float64(w1.Sub(w0)), l0.quantile(l1, 0.99), float64(alive)/float64(n), logs)
				c0, w0, l0 = c1, w1, l1
			}
		})
		t.Cleanup(func() { close(stop); wg.Wait() })
	}
	// Join in groups, each member through a random member that already
	// joined, and before the next group wait until all see all and the
	// process is idle again. Every join is gossiped to every member several
	// times, and a member with anything to gossip sends GossipNodes packets
	// every GossipInterval: with hundreds of members in one process on a
	// small machine, joins faster than that starve memberlist of CPU, its
	// probe timeouts fire, and the false suspicions that follow feed the
	// storm (seen from about 400 members on 2 cores).
	group := 20
	if n <= 128 { // small enough to join at once
		group = n
	}
	busy := 0.4 * float64(runtime.GOMAXPROCS(0)) // cores
	var (
		paused time.Duration
		st     convergeStats
	)
	for lo := 1; lo < n; lo += group {
		batch := pools[lo:min(lo+group, n)]
		joined := pools[:lo]
		parallel(len(batch), 2, func(i int) error {
			return joinRetry(ctx, batch[i], joined[rand.IntN(len(joined))].Addr())
		}, t)
		w0 := time.Now()
		converge(ctx, t, pools[:lo+len(batch)], &st)
		waitIdle(t, busy)
		paused += time.Since(w0)
		if f := falseFailures.Load(); f > int64(n) {
			t.Fatalf("the pool collapsed at %d members: %d false failures reported; memberlist: %v. "+
				"The process cannot run this many members (see the progress lines): try fewer, or -gossip.profile=lan, -gossip.compress=false",
				lo+len(batch), f, logs)
		}
		if done := lo + len(batch); n > 100 && (done/100 != lo/100 || done == n) {
			t.Logf("%d joined after %v; %v", done, time.Since(start).Round(time.Millisecond), logs)
		}
	}
	waitSteady(t, 2*time.Minute)
	joinTime := time.Since(start)

	// Steady state.
	var ms runtime.MemStats
	cpu0, wall0 := cpuTime(t), time.Now()
	falseBefore := falseFailures.Load()
	probeFailedBefore := logs.probeFailed.Load()
	time.Sleep(*simWindow) // a measurement window, not a wait for a condition
	cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
	runtime.ReadMemStats(&ms)
	perMember := time.Duration(float64(cpu) / float64(n) / wall.Seconds())
	probeFailedWindow := logs.probeFailed.Load() - probeFailedBefore

	// Failure of one member.
	v := n / 2
	closeAt := time.Now()
	if err := pools[v].Close(); err != nil {
		t.Fatal(err)
	}
	// At most the maximum suspicion timeout, plus time to spread the news.
	mc := (Config{Profile: *simProfile}).memberlistConfig()
	maxSuspicion := time.Duration(float64(mc.SuspicionMaxTimeoutMult*mc.SuspicionMult) *
		math.Max(1, math.Log10(float64(n))) * float64(mc.ProbeInterval))
	waitFor(t, maxSuspicion+time.Minute, "every member to see "+victim+" fail", func() bool {
		for i := range failedAt {
			if i != v && failedAt[i].Load() == 0 {
				return false
			}
		}
		return true
	})
	var lat []time.Duration
	for i := range failedAt {
		if i != v {
			lat = append(lat, time.Duration(failedAt[i].Load()-closeAt.UnixNano()))
		}
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))].Round(time.Millisecond) }

	t.Logf("members: %d (%s profile, compression %v, loopback, GOMAXPROCS %d, -gossip.gogc %d)", n, *simProfile, *simCompress, runtime.GOMAXPROCS(0), *simGOGC)
	t.Logf("start, join and converge: %v in groups of %d (of which %v waiting for convergence and idle CPU; 2 s after a group joined, at worst %d members missed %d member views in all; push/pull nudges: %d)",
		joinTime.Round(time.Millisecond), group, paused.Round(time.Millisecond), st.worstBehind, st.worstMissing, st.nudges)
	t.Logf("steady state over %v: CPU %v = %.2f cores; per member %v CPU per second (%.3f%% of a core); goroutines %d; heap in use %d MiB",
		wall.Round(time.Millisecond), cpu.Round(time.Millisecond), cpu.Seconds()/wall.Seconds(),
		perMember, 100*perMember.Seconds(), runtime.NumGoroutine(), ms.HeapInuse>>20)
	t.Logf("failure of %s seen by all %d others: min %v, median %v, p90 %v, p99 %v, max %v",
		victim, len(lat), q(0), q(0.5), q(0.9), q(0.99), q(1))
	t.Logf("false failures (other members reported failed): %d during the window, %d in all; leave events: %d",
		falseFailures.Load()-falseBefore, falseFailures.Load(), leaves.Load())
	t.Logf("failed probes during the window: %d; memberlist in all: %v", probeFailedWindow, logs)
	if p := logs.topProblems(); p != "" {
		t.Logf("memberlist warnings and errors:\n\t%s", p)
	}
}

// waitIdle waits until, over a second, the process used
// less than cores CPUs and goroutines waited at most 20 ms to run (p99),
// or until 3 min passed. Both matter: when
// other processes take the CPUs, ours uses little yet is starved.
func waitIdle(t testing.TB, cores float64) {
	const window = time.Second
	start := time.Now()
	for time.Since(start) < 3*time.Minute {
		c0, w0, l0 := cpuTime(t), time.Now(), schedLatencies()
		time.Sleep(window)
		cpu := float64(cpuTime(t)-c0) / float64(time.Since(w0))
		if cpu < cores && l0.quantile(schedLatencies(), 0.99) < 20*time.Millisecond {
			return
		}
	}
}

// waitSteady waits until the CPU the process uses stops falling (what a
// burst of joins left to gossip is sent), at most for max.
func waitSteady(t testing.TB, max time.Duration) {
	start := time.Now()
	prev := math.Inf(1)
	for time.Since(start) < max {
		c0, w0 := cpuTime(t), time.Now()
		time.Sleep(time.Second)
		cpu := float64(cpuTime(t)-c0) / float64(time.Since(w0))
		if cpu > 0.9*prev {
			return
		}
		prev = cpu
	}
}

// latencyHist is the runtime's histogram of how long goroutines waited to
// run.
type latencyHist struct{ h *metrics.Float64Histogram }

func schedLatencies() latencyHist {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return latencyHist{}
	}
	return latencyHist{s[0].Value.Float64Histogram()}
}

// quantile returns the q-quantile of the latencies recorded between h and
// later.
func (h latencyHist) quantile(later latencyHist, q float64) time.Duration {
	if h.h == nil || later.h == nil {
		return 0
	}
	var total uint64
	delta := make([]uint64, len(later.h.Counts))
	for i := range delta {
		delta[i] = later.h.Counts[i] - h.h.Counts[i]
		total += delta[i]
	}
	if total == 0 {
		return 0
	}
	var seen uint64
	for i, c := range delta {
		seen += c
		if float64(seen) >= q*float64(total) {
			up := later.h.Buckets[i+1]
			if math.IsInf(up, 1) {
				up = later.h.Buckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}

// logCounter counts memberlist's log lines of interest across all members.
type logCounter struct {
	probeFailed, markedFailed, refuted, warn, errs atomic.Int64

	mu       sync.Mutex
	problems map[string]int    // warnings and errors by their first words
	samples  map[string]string // one full message of each
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCounter) WithGroup(string) slog.Handler            { return c }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	switch {
	case strings.HasPrefix(r.Message, "Suspect ") && strings.HasSuffix(r.Message, "no acks received"):
		c.probeFailed.Add(1)
	case strings.HasPrefix(r.Message, "Marking ") && strings.Contains(r.Message, " as failed"):
		c.markedFailed.Add(1)
	case strings.HasPrefix(r.Message, "Refuting"):
		c.refuted.Add(1)
	}
	switch {
	case r.Level >= slog.LevelError:
		c.errs.Add(1)
	case r.Level >= slog.LevelWarn:
		c.warn.Add(1)
	default:
		return nil
	}
	key := r.Level.String() + " " + strings.Join(strings.Fields(r.Message)[:min(4, len(strings.Fields(r.Message)))], " ")
	c.mu.Lock()
	if c.problems == nil {
		c.problems, c.samples = make(map[string]int), make(map[string]string)
	}
	c.problems[key]++
	if _, ok := c.samples[key]; !ok {
		c.samples[key] = r.Message
	}
	c.mu.Unlock()
	return nil
}

// topProblems returns the most frequent kinds of warnings and errors.
func (c *logCounter) topProblems() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := slices.Collect(maps.Keys(c.problems))
	slices.SortFunc(keys, func(a, b string) int { return c.problems[b] - c.problems[a] })
	var out []string
	for _, k := range keys[:min(6, len(keys))] {
		out = append(out, fmt.Sprintf("%d x %q", c.problems[k], c.samples[k]))
	}
	return strings.Join(out, "\n\t")
}

func (c *logCounter) String() string {
	return fmt.Sprintf("probes failed %d, members marked failed %d, refutations %d; warnings %d, errors %d",
		c.probeFailed.Load(), c.markedFailed.Load(), c.refuted.Load(), c.warn.Load(), c.errs.Load())
}

type convergeStats struct {
	worstBehind, worstMissing, nudges int
}

// converge waits until every pool sees all of them. memberlist spreads each
// join by gossip with a bounded number of retransmissions; in the local
// profile (RetransmitMult 2) a burst of joins leaves some members unaware
// of a few others until the next push/pull (every 30 s at 64 members, 90 s
// at 1000). Instead of waiting that long, members still behind 2 s after
// the joins push/pull with one that sees all: Join on a joined member is
// exactly that exchange.
func converge(ctx context.Context, t *testing.T, pools []*Pool, st *convergeStats) {
	t.Helper()
	n := len(pools)
	start := time.Now()
	deadline := start.Add(time.Minute + time.Duration(n)*100*time.Millisecond)
	lastNudge := start
	for {
		var full *Pool
		var behind []*Pool
		missing := 0
		for _, p := range pools {
			if a := p.NumAlive(); a == n {
				full = p
			} else {
				behind = append(behind, p)
				missing += n - a
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d members still do not see all %d", len(behind), n)
		}
		if full != nil && time.Since(lastNudge) >= 2*time.Second {
			if lastNudge == start && len(behind) > st.worstBehind {
				st.worstBehind, st.worstMissing = len(behind), missing
			}
			st.nudges += len(behind)
			parallel(len(behind), 4, func(i int) error {
				return joinRetry(ctx, behind[i], full.Addr())
			}, t)
			lastNudge = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// joinRetry joins p to addr, retrying for a while on temporary errors: a
// member busy with a burst of joins may not answer within the local
// profile's 1 s TCP timeout.
func joinRetry(ctx context.Context, p *Pool, addr string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := p.Join(ctx, addr)
		if err == nil || !IsTempError(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parallel runs f(0..n-1) on at most workers goroutines, failing t on the
// first error.
func parallel(n, workers int, f func(i int) error, t testing.TB) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		mu   sync.Mutex
		errs []error
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
}

func closeAll(pools []*Pool) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, p := range pools {
		if p == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = p.Close()
		})
	}
	wg.Wait()
}

// cpuTime returns the user and system CPU time used by the process.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ensureFileLimit raises the soft limit on open files to need if it is
// lower, or skips the test.
func ensureFileLimit(t testing.TB, need uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= need {
		return
	}
	if lim.Max < need {
		t.Skipf("open files limit is %d (hard), need %d: raise it (ulimit -n) or lower -gossip.members", lim.Max, need)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise the open files limit to %d: %v", need, err)
	}
}
