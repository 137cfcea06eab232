package gossip

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	simMembers = flag.Int("gossip.members", 64, "members in TestSim (try 1000, without -race)")
	simWindow  = flag.Duration("gossip.window", 3*time.Second, "steady-state window over which TestSim measures CPU")
)

// TestSim runs a pool of -gossip.members members in this process (local
// profile, loopback), measures the CPU it uses in steady state, then closes
// one member and measures how long each other member takes to see it fail.
// For figures not disturbed by other tests run it alone:
//
//	go test ./edge/gossip -run TestSim -v -timeout 20m -gossip.members=1000 -gossip.window=10s
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

	victim := fmt.Sprintf("m%04d", n/2)
	failedAt := make([]atomic.Int64, n) // when member i saw the victim fail, unix ns
	var falseFailures, leaves atomic.Int64
	pools := make([]*Pool, n)
	t.Cleanup(func() { closeAll(pools) })

	// Start the members, then have each join a random member that already
	// joined.
	start := time.Now()
	parallel(n, 8, func(i int) error {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("m%04d", i)
		cfg.BindAddr = "127.0.0.1:0"
		cfg.Profile = ProfileLocal
		cfg.Label = "meridian-sim"
		cfg.Meta = testMeta(cfg.Name, RoleEdge)
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
	ctx := ctxTimeout(t, 10*time.Minute)
	var (
		joinedMu sync.Mutex
		joined   = []*Pool{pools[0]}
	)
	parallel(n-1, 4, func(i int) error {
		joinedMu.Lock()
		seed := joined[rand.IntN(len(joined))]
		joinedMu.Unlock()
		if err := joinRetry(ctx, pools[i+1], seed.Addr()); err != nil {
			return err
		}
		joinedMu.Lock()
		joined = append(joined, pools[i+1])
		if len(joined)%100 == 0 {
			t.Logf("%d joined after %v", len(joined), time.Since(start).Round(time.Millisecond))
		}
		joinedMu.Unlock()
		return nil
	}, t)
	joinTime := time.Since(start)
	// memberlist spreads each join by gossip with a bounded number of
	// retransmissions; in the local profile (RetransmitMult 2) a burst of
	// joins leaves some members unaware of a few others until the next
	// push/pull (every 30 s at 64 members, 90 s at 1000). Instead of waiting
	// for it, have the members that lag push/pull with one that sees all:
	// Join on a joined member is exactly that exchange.
	var (
		nudges  int
		stalled int // members not seeing all after the grace period
		missing int // and how many members they miss in all
	)
	joinedAt := time.Now()
	deadline := joinedAt.Add(time.Minute + time.Duration(n)*200*time.Millisecond)
	for {
		var full *Pool
		var behind []*Pool
		for _, p := range pools {
			if p.NumAlive() == n {
				full = p
			} else {
				behind = append(behind, p)
			}
		}
		if len(behind) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d members still do not see all %d", len(behind), n)
		}
		if time.Since(joinedAt) > 2*time.Second && full != nil {
			if nudges == 0 {
				stalled = len(behind)
				for _, p := range behind {
					missing += n - p.NumAlive()
				}
			}
			nudges++
			parallel(len(behind), 8, func(i int) error {
				return joinRetry(ctx, behind[i], full.Addr())
			}, t)
		}
		time.Sleep(250 * time.Millisecond)
	}
	convergeTime := time.Since(start)

	// Steady state.
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, wall0 := cpuTime(t), time.Now()
	falseBefore := falseFailures.Load()
	time.Sleep(*simWindow) // a measurement window, not a wait for a condition
	cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
	runtime.ReadMemStats(&ms1)
	perMember := time.Duration(float64(cpu) / float64(n) / wall.Seconds())

	// Failure of one member.
	v := n / 2
	closeAt := time.Now()
	if err := pools[v].Close(); err != nil {
		t.Fatal(err)
	}
	// At most the maximum suspicion timeout, plus time to spread the news.
	maxSuspicion := time.Duration(6*3*math.Max(1, math.Log10(float64(n)))) * time.Second
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

	t.Logf("members: %d (local profile, loopback, GOMAXPROCS %d)", n, runtime.GOMAXPROCS(0))
	t.Logf("start+join: %v; all see all: %v (2 s after the joins, %d members missed %d member views in all; push/pull nudge rounds: %d)",
		joinTime.Round(time.Millisecond), convergeTime.Round(time.Millisecond), stalled, missing, nudges)
	t.Logf("steady state over %v: CPU %v = %.2f cores; per member %v CPU per second (%.3f%% of a core); goroutines %d; heap in use %d MiB",
		wall.Round(time.Millisecond), cpu.Round(time.Millisecond), cpu.Seconds()/wall.Seconds(),
		perMember, 100*perMember.Seconds(), runtime.NumGoroutine(), ms1.HeapInuse>>20)
	t.Logf("failure of %s seen by all %d others: min %v, median %v, p90 %v, p99 %v, max %v",
		victim, len(lat), q(0), q(0.5), q(0.9), q(0.99), q(1))
	t.Logf("false failures (other members reported failed): %d during the window, %d in all; leave events: %d",
		falseFailures.Load()-falseBefore, falseFailures.Load(), leaves.Load())
}

// joinRetry joins p to addr, retrying for a while on temporary errors: a
// member busy with a burst of joins may not answer within the local
// profile's 1 s TCP timeout.
func joinRetry(ctx context.Context, p *Pool, addr string) error {
	var err error
	for range 30 {
		if _, err = p.Join(ctx, addr); err == nil || !IsTempError(err) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
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
