package gossip

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
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
	simMembers   = flag.Int("gossip.members", 64, "members in TestSim (try 1000 with -gossip.profile=sim, without -race)")
	simWindow    = flag.Duration("gossip.window", 3*time.Second, "steady-state window over which TestSim measures CPU")
	simProfile   = flag.String("gossip.profile", ProfileLocal, "profile of the members in TestSim: lan, wan, local, or sim (the local profile slowed down by -gossip.timescale)")
	simGOGC      = flag.Int("gossip.gogc", 0, "GOGC for TestSim if not 0: one process holds every member's view of every member")
	simCompress  = flag.Bool("gossip.compress", true, "leave memberlist's compression on in TestSim (the default of every profile)")
	simCPUProf   = flag.String("gossip.cpuprofile", "", "write a CPU profile of TestSim's steady-state window to this file")
	simMemProf   = flag.String("gossip.memprofile", "", "write a heap profile of TestSim's pool, after the steady-state window, to this file")
	simTimescale = flag.Float64("gossip.timescale", 5, "with -gossip.profile=sim, how many times slower than the local profile TestSim's members run")
	simTrials    = flag.Int("gossip.trials", 1, "members TestSim closes, one after the other, each once all others saw the previous one fail")
)

// profileSim is TestSim's own profile: local, slowed down by simTune.
const profileSim = "sim"

// simTune returns, for -gossip.profile=sim, memberlist's local profile
// slowed down by scale for a pool of n members in one process: every
// timing is multiplied by scale (probe interval and timeout, gossip
// interval, push/pull interval, TCP timeout, gossip to the dead; the
// suspicion timeouts follow the probe interval), and nothing else changes
// but the handler queue.
//
// Why: a real pool has a CPU per member, and its members answer within a
// millisecond, far inside the protocol's deadlines (a probe's ack is due
// within 200 ms, the whole probe within 1 s). A thousand members in one
// process share two cores, one scheduler and one heap with each other and
// with whatever else runs on the machine: a goroutine can wait hundreds of
// milliseconds for a core, probes miss their deadlines, and the false
// suspicions and refutations that follow feed on themselves (the local
// profile collapsed at 300 to 400 members here). Slowed down, the protocol
// runs the same in its own time (the same probes, suspicions and gossip
// rounds per probe interval) but the process spends a scale-th of the CPU
// per second on it, and delays weigh scale times less against its
// deadlines. Divide the times measured by scale, and multiply the CPU per
// second by it, to compare with the local profile.
//
// The handler queue, where alive, suspect and dead messages wait for a
// member's one handler goroutine, is 2n deep (default 1,024): during the
// joins a member gets every newcomer's alive message several times, and a
// full queue drops messages ("handler queue full"), joins and refutations
// among them.
func simTune(n int, scale float64) func(*memberlist.Config) {
	slow := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	return func(mc *memberlist.Config) {
		mc.ProbeInterval = slow(mc.ProbeInterval)
		mc.ProbeTimeout = slow(mc.ProbeTimeout)
		mc.GossipInterval = slow(mc.GossipInterval)
		mc.GossipToTheDeadTime = slow(mc.GossipToTheDeadTime)
		mc.PushPullInterval = slow(mc.PushPullInterval)
		mc.TCPTimeout = slow(mc.TCPTimeout)
		mc.HandoffQueueDepth = max(mc.HandoffQueueDepth, 2*n)
	}
}

// simScale returns how much slower than their profile TestSim's members
// run.
func simScale() float64 {
	if *simProfile == profileSim {
		return *simTimescale
	}
	return 1
}

// simConfig returns the configuration of TestSim's member i of n, from the
// flags.
func simConfig(i, n int, logger *slog.Logger) Config {
	cfg := DefaultConfig()
	cfg.Name = simName(i)
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Profile = *simProfile
	var tune func(*memberlist.Config)
	if cfg.Profile == profileSim {
		cfg.Profile, tune = ProfileLocal, simTune(n, *simTimescale)
	}
	cfg.tune = func(mc *memberlist.Config) {
		if tune != nil {
			tune(mc)
		}
		mc.EnableCompression = *simCompress
	}
	cfg.Label = "meridian-sim"
	cfg.Meta = testMeta(cfg.Name, RoleEdge)
	// Every member holds every member's Meta, decoded: in one process a
	// map of tags per member costs n*n maps (a quarter of the heap at 250
	// members) and garbage collections as long.
	cfg.Meta.Tags = nil
	cfg.Logger = logger
	return cfg
}

func simName(i int) string { return fmt.Sprintf("m%04d", i) }

// TestSim runs a pool of -gossip.members members in this process (local
// profile by default, loopback), measures the CPU it uses in steady state,
// then closes -gossip.trials members one after the other, without Leave,
// and measures how long each other member takes to see each fail. The
// default run (64 members) is part of go test ./...; the large one is
// opt-in, best run alone (about 20 minutes for 1,000 members on 2 cores):
//
//	go test ./edge/gossip -run 'TestSim$' -v -timeout 90m -gossip.members=1000 -gossip.profile=sim -gossip.compress=false -gossip.gogc=400 -gossip.window=60s -gossip.trials=3
//
// One process is not a cluster: every member shares the process's CPUs,
// scheduler and heap (each member holds every member's state: the heap
// grows with the square of the members), and memberlist's deadlines assume
// a member gets a CPU when it needs one. In the local profile, on 2 cores,
// the pool collapses under its own join traffic at 300 to 400 members; the
// sim profile runs the local profile slowed down (see simTune). Two more
// settings lighten the process, not the protocol: -gossip.gogc=400 makes
// fewer collections of a heap of 1 to 2 GiB, and -gossip.compress=false
// spares a 64 KiB LZW table allocated for each packet sent (memberlist
// compresses each one) and the decompression of each packet received: at
// 250 members they took 30 % of the CPU. With compression on, two runs
// toward 1,000 members broke down at about 700 while other processes used
// 1 to 1.8 of the 2 cores.
//
// The test fails if any member is reported failed that was not closed:
// such a run measures the process, not memberlist. It stops at the first
// such failure during the joins.
func TestSim(t *testing.T) {
	t.Parallel()
	n := *simMembers
	if raceEnabled && !flagSet("gossip.members") {
		n = 16 // the race detector makes each member several times slower
	}
	trials := *simTrials
	if n < 3 || trials < 1 || trials > n-2 {
		t.Fatalf("-gossip.members=%d -gossip.trials=%d: need at least 3 members and 1 trial, and 2 members left", n, trials)
	}
	if raceEnabled && n > 300 { // about 10 goroutines per member
		t.Skipf("the race detector allows 8128 goroutines; run -gossip.members=%d without -race", n)
	}
	if err := simConfig(0, n, nil).Validate(); err != nil {
		t.Fatalf("-gossip.profile=%s: %v", *simProfile, err)
	}
	if *simTimescale < 1 {
		t.Fatalf("-gossip.timescale=%v: want at least 1", *simTimescale)
	}
	scale := simScale()
	ensureFileLimit(t, uint64(4*n+512)) // a UDP and a TCP listener per member, plus streams
	if *simGOGC != 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(*simGOGC))
	}

	// The members closed by the trials, spread over the pool, and when each
	// member saw each of them fail.
	victims := make([]int, trials)
	victimOf := make(map[string]int, trials) // read-only once the pools run
	for k := range victims {
		victims[k] = (k + 1) * n / (trials + 1)
		victimOf[simName(victims[k])] = k
	}
	closedAt := make([]atomic.Int64, trials) // unix ns, 0 while running
	failedAt := make([][]atomic.Int64, trials)
	for k := range failedAt {
		failedAt[k] = make([]atomic.Int64, n)
	}
	var falseFailures, leaves atomic.Int64
	var busiest atomic.Uint64 // the most CPU other processes used over 10 s, in 1/100 cores
	var falseMu sync.Mutex
	var falseNames []string // the first few members falsely reported failed
	firstFalse := func() string {
		falseMu.Lock()
		defer falseMu.Unlock()
		return strings.Join(falseNames, ", ")
	}

	pools := make([]*Pool, n)
	t.Cleanup(func() { closeAll(pools) })
	logs := &logCounter{}
	logger := slog.New(logs)
	t.Cleanup(func() {
		if p := logs.topProblems(); t.Failed() && p != "" {
			t.Logf("memberlist warnings and errors:\n\t%s", p)
		}
	})
	drops0 := udpDrops()
	uStart := sampleUsage(t)

	start := time.Now()
	parallel(n, 8, func(i int) error {
		cfg := simConfig(i, n, logger)
		cfg.Events = func(e Event) {
			switch e.Kind {
			case EventFailed:
				if k, ok := victimOf[e.Member.Name]; ok && closedAt[k].Load() != 0 {
					failedAt[k][i].CompareAndSwap(0, time.Now().UnixNano())
					return
				}
				if falseFailures.Add(1) <= 5 {
					falseMu.Lock()
					falseNames = append(falseNames, simName(i)+" saw "+e.Member.Name)
					falseMu.Unlock()
				}
			case EventLeave:
				leaves.Add(1)
			}
		}
		p, err := New(cfg)
		pools[i] = p
		return err
	}, t)
	ctx := ctxTimeout(t, 2*time.Hour)
	if n > 100 { // progress report every 10 s
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Second)
			defer tick.Stop()
			u0 := sampleUsage(t)
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				u1 := sampleUsage(t)
				r := u0.since(u1)
				if c := uint64(100 * r.others); r.others > 0 && c > busiest.Load() {
					busiest.Store(c)
				}
				seen := 0
				for _, p := range pools {
					seen += p.NumAlive()
				}
				cur, _ := rss()
				t.Logf("%v: %v, RSS %d MiB, mean members seen %.1f, false failures %d; %v",
					time.Since(start).Round(time.Second), r, cur, float64(seen)/float64(n), falseFailures.Load(), logs)
				u0 = u1
			}
		})
		t.Cleanup(func() { close(stop); wg.Wait() })
	}

	// Join in groups, each member through a random member that already
	// joined, and before the next group wait until all see all and the
	// process is quiet again. Every join is gossiped to every member several
	// times, and a member with anything to gossip sends GossipNodes packets
	// every GossipInterval: with hundreds of members in one process on a
	// small machine, joins faster than that starve memberlist of CPU, its
	// probe timeouts fire, and the false suspicions that follow feed the
	// storm.
	group := 10
	if n <= 128 { // small enough to join at once
		group = n
	}
	nudgeAfter := time.Duration(scale * float64(time.Second)) // 1 s, slowed down like the protocol
	var (
		paused time.Duration
		st     convergeStats
		noisy  int // groups after which the process did not get quiet
	)
	for lo := 1; lo < n; lo += group {
		batch := pools[lo:min(lo+group, n)]
		joined := pools[:lo]
		parallel(len(batch), 2, func(i int) error {
			return joinRetry(ctx, batch[i], joined[rand.IntN(len(joined))].Addr())
		}, t)
		w0 := time.Now()
		converge(ctx, t, pools[:lo+len(batch)], nudgeAfter, &st,
			func() bool { return falseFailures.Load() > 0 })
		if _, ok := waitQuiet(t, 30*time.Second); !ok {
			noisy++
		}
		paused += time.Since(w0)
		if f := falseFailures.Load(); f > 0 { // the start of a storm: stop
			t.Fatalf("%d false failures (first: %s) at %d members; other processes used up to %.2f cores (see the progress lines); memberlist: %v. "+
				"The process could not keep up: try fewer members, or -gossip.profile=sim with a larger -gossip.timescale, or a quieter machine",
				f, firstFalse(), lo+len(batch), float64(busiest.Load())/100, logs)
		}
		if done := lo + len(batch); n > 100 && (done/100 != lo/100 || done == n) {
			t.Logf("%d joined after %v; %v", done, time.Since(start).Round(time.Millisecond), logs)
		}
	}
	quietWait, _ := waitQuiet(t, 2*time.Minute)
	joinTime := time.Since(start)
	joinUsage := uStart.since(sampleUsage(t))
	joinFalse := falseFailures.Load()
	if n > 100 {
		t.Logf("all %d joined and see all after %v; measuring CPU over %v", n, joinTime.Round(time.Second), *simWindow)
	}

	// Steady state.
	var ms runtime.MemStats
	u0, gc0 := sampleUsage(t), gcCPU()
	falseBefore := falseFailures.Load()
	probeFailedBefore := logs.probeFailed.Load()
	if *simCPUProf != "" {
		stop := startCPUProfile(t, *simCPUProf)
		time.Sleep(*simWindow) // a measurement window, not a wait for a condition
		stop()
	} else {
		time.Sleep(*simWindow)
	}
	u1, gc1 := sampleUsage(t), gcCPU()
	cpu, wall := u1.cpu-u0.cpu, u1.wall.Sub(u0.wall)
	window := u0.since(u1)
	runtime.ReadMemStats(&ms)
	rssWindow, _ := rss()
	if *simMemProf != "" {
		writeHeapProfile(t, *simMemProf)
	}
	perMember := float64(cpu) / float64(time.Millisecond) / float64(n) / wall.Seconds() // ms per second
	probeFailedWindow := logs.probeFailed.Load() - probeFailedBefore
	falseWindow := falseFailures.Load() - falseBefore

	// Failures: close the victims one after the other, each once every
	// member still running saw the previous one fail (and the process is
	// quiet again).
	simCfg := simConfig(0, n, nil)
	mc := simCfg.memberlistConfig()
	simCfg.tune(mc)
	// A member that missed the news learns it at its next push/pull at the
	// latest (memberlist scales the interval with log2 of the members).
	maxSuspicion := time.Duration(float64(mc.SuspicionMaxTimeoutMult*mc.SuspicionMult) *
		math.Max(1, math.Log10(float64(n))) * float64(mc.ProbeInterval))
	pushPull := time.Duration(math.Ceil(math.Max(0, math.Log2(float64(n))-5))+1) * mc.PushPullInterval
	running := make([]bool, n)
	for i := range running {
		running[i] = true
	}
	type trialResult struct {
		victim string
		lat    []time.Duration // sorted
		falses int64
		usage  rates
	}
	results := make([]trialResult, trials)
	var all []time.Duration
	for k, v := range victims {
		if k > 0 {
			waitQuiet(t, time.Minute)
		}
		false0 := falseFailures.Load()
		ut := sampleUsage(t)
		closeAt := time.Now()
		closedAt[k].Store(closeAt.UnixNano())
		if err := pools[v].Close(); err != nil {
			t.Fatal(err)
		}
		running[v] = false
		waitFor(t, maxSuspicion+2*pushPull+time.Minute, "every member to see "+simName(v)+" fail", func() bool {
			for i := range running {
				if running[i] && failedAt[k][i].Load() == 0 {
					return false
				}
			}
			return true
		})
		r := trialResult{victim: simName(v), falses: falseFailures.Load() - false0, usage: ut.since(sampleUsage(t))}
		for i := range running {
			if running[i] {
				r.lat = append(r.lat, time.Duration(failedAt[k][i].Load()-closeAt.UnixNano()))
			}
		}
		slices.Sort(r.lat)
		results[k] = r
		all = append(all, r.lat...)
		if n > 100 {
			t.Logf("trial %d: failure of %s seen by all %d others: %s; meanwhile %v", k+1, r.victim, len(r.lat), quantiles(r.lat, scale), r.usage)
		}
	}
	slices.Sort(all)

	drops := udpDrops() - drops0
	_, rssPeak := rss()
	t.Logf("members: %d (%s profile, timescale %v, compression %v, loopback, GOMAXPROCS %d, GOGC %d, %d CPUs)",
		n, *simProfile, scale, *simCompress, runtime.GOMAXPROCS(0), gogc(), runtime.NumCPU())
	t.Logf("start, join and converge: %v in groups of %d (of which %v waiting for convergence and a quiet process, %d groups not quiet within 30 s, final wait %v; %v after a group joined, at worst %d members missed %d member views in all; push/pull nudges: %d); meanwhile %v",
		joinTime.Round(time.Millisecond), group, paused.Round(time.Millisecond), noisy, quietWait.Round(time.Millisecond), nudgeAfter, st.worstBehind, st.worstMissing, st.nudges, joinUsage)
	t.Logf("steady state over %v: CPU %v = %.2f cores (GC %.0f%%, runtime estimate), per member %.3f ms CPU per second (%.3f%% of a core); other processes %.2f cores; sched p99 %v; goroutines %d; heap in use %d MiB; RSS %d MiB",
		wall.Round(time.Millisecond), cpu.Round(time.Millisecond), window.cores, 100*float64(gc1-gc0)/float64(cpu),
		perMember, perMember/10, window.others, window.p99, runtime.NumGoroutine(), ms.HeapInuse>>20, rssWindow)
	if scale != 1 {
		t.Logf("at the local profile's pace (CPU per second x %v): per member %.3f ms CPU per second", scale, perMember*scale)
	}
	for k, r := range results {
		t.Logf("trial %d: failure of %s seen by all %d others: %s; false failures %d; meanwhile %v",
			k+1, r.victim, len(r.lat), quantiles(r.lat, scale), r.falses, r.usage)
	}
	if trials > 1 {
		t.Logf("all %d trials: %s", trials, quantiles(all, scale))
	}
	busiestNote := "" // measured by the progress reports
	if n > 100 {
		busiestNote = fmt.Sprintf("; other processes used up to %.2f cores over 10 s", float64(busiest.Load())/100)
	}
	t.Logf("false failures (members reported failed that were not closed): %d during joins, %d during the window, %d in all; leave events: %d; peak RSS %d MiB%s",
		joinFalse, falseWindow, falseFailures.Load(), leaves.Load(), rssPeak, busiestNote)
	t.Logf("failed probes during the window: %d; UDP datagrams dropped by the kernel (whole machine): %d; memberlist in all: %v", probeFailedWindow, drops, logs)
	if p := logs.topProblems(); p != "" {
		t.Logf("memberlist warnings and errors:\n\t%s", p)
	}
	if f := falseFailures.Load(); f > 0 {
		t.Errorf("%d false failures (first: %s): the process could not keep up with this many members; the figures above measure it, not memberlist",
			f, firstFalse())
	}
}

type convergeStats struct {
	worstBehind, worstMissing, nudges int
}

// converge waits until every pool sees all of them. memberlist spreads each
// join by gossip with a bounded number of retransmissions; in the local
// profile (RetransmitMult 2) a burst of joins leaves some members unaware
// of a few others until the next push/pull (every 30 s at 64 members, 90 s
// at 1000). Instead of waiting that long, members still behind nudgeAfter
// after the joins push/pull with one that sees all: Join on a joined member is
// exactly that exchange. converge also returns when stop returns true.
func converge(ctx context.Context, t *testing.T, pools []*Pool, nudgeAfter time.Duration, st *convergeStats, stop func() bool) {
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
		if len(behind) == 0 || stop() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d members still do not see all %d", len(behind), n)
		}
		if full != nil && time.Since(lastNudge) >= nudgeAfter {
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
// member busy with a burst of joins may not answer within the profile's TCP
// timeout.
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
