package gossip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// What TestSim measures about its own process: CPU, scheduler latency, RSS,
// kernel UDP drops, and memberlist's log lines of interest.

// cpuTime returns the user and system CPU time used by the process.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Errorf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcCPU returns the runtime's estimate of the CPU time spent in the garbage
// collector (background marking, assists, pauses) so far.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

// startCPUProfile starts writing a CPU profile to path and returns the
// function that stops it.
func startCPUProfile(t testing.TB, path string) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		t.Fatalf("-gossip.cpuprofile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
}

// writeHeapProfile writes a profile of the live heap to path.
func writeHeapProfile(t testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC() // the profile shows the heap as of the last collection
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Errorf("-gossip.memprofile: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}

// gogc returns the garbage collector's GOGC setting.
func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// rss returns the process's resident set size and its peak in MiB, from
// /proc/self/status (Linux); zeros elsewhere.
func rss() (cur, peak uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line)) // "VmRSS:", "123456", "kB"
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v >> 10
		case "VmHWM:":
			peak = v >> 10
		}
	}
	return cur, peak
}

// udpDrops returns how many UDP datagrams the kernel dropped so far because
// a socket's receive buffer was full, in this network namespace (other
// processes included), from /proc/net/snmp; -1 if unknown.
func udpDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "RcvbufErrors"); i > 0 && i < len(f) {
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err == nil {
				return v
			}
		}
		return -1
	}
	return -1
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
// later (the upper bound of its bucket).
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

// machineCPU returns the CPU time all processes of the machine used so far
// (every state but idle and iowait, from /proc/stat, in USER_HZ = 100 ticks
// per second); -1 if unknown.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		ticks += x
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// usage is a sample of the CPU used by the process and by the machine, and
// of the process's scheduler latencies.
type usage struct {
	cpu, machine time.Duration
	wall         time.Time
	lat          latencyHist
}

func sampleUsage(t testing.TB) usage {
	return usage{cpu: cpuTime(t), machine: machineCPU(), wall: time.Now(), lat: schedLatencies()}
}

// rates is what happened between two usage samples.
type rates struct {
	cores  float64       // used by this process
	others float64       // used by the other processes of the machine (-1: unknown)
	p99    time.Duration // scheduler latency of this process's goroutines
}

func (u usage) since(later usage) rates {
	wall := float64(later.wall.Sub(u.wall))
	r := rates{cores: float64(later.cpu-u.cpu) / wall, others: -1, p99: u.lat.quantile(later.lat, 0.99)}
	if u.machine >= 0 && later.machine >= 0 {
		r.others = max(0, float64(later.machine-u.machine)/wall-r.cores)
	}
	return r
}

func (r rates) String() string {
	return fmt.Sprintf("CPU %.2f cores (other processes %.2f), sched p99 %v", r.cores, r.others, r.p99)
}

// waitQuiet waits until, over a second, goroutines waited at most 20 ms to
// run (p99) and the process's CPU stopped falling by more than a tenth
// (what a burst of joins left to gossip is sent), or until limit passed,
// which it reports. Both matter: when other processes take the CPUs, ours
// uses little yet is starved.
func waitQuiet(t testing.TB, limit time.Duration) (waited time.Duration, ok bool) {
	start := time.Now()
	prev := math.Inf(1)
	for time.Since(start) < limit {
		u0 := sampleUsage(t)
		time.Sleep(time.Second) // a measurement window
		r := u0.since(sampleUsage(t))
		if r.p99 <= 20*time.Millisecond && r.cores > 0.9*prev {
			return time.Since(start), true
		}
		prev = r.cores
	}
	return time.Since(start), false
}

// logCounter counts memberlist's log lines of interest across all members.
// memberlist formats every line, debug included, before our logger sees
// it; counting them costs little more.
type logCounter struct {
	probeFailed, markedFailed, refuted, queueFull, warn, errs atomic.Int64

	mu       sync.Mutex
	problems map[string]int    // warnings and errors by their first words
	samples  map[string]string // one full message of each
}

var _ slog.Handler = (*logCounter)(nil)

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
	case strings.HasPrefix(r.Message, "handler queue full"):
		c.queueFull.Add(1)
	}
	switch {
	case r.Level >= slog.LevelError:
		c.errs.Add(1)
	case r.Level >= slog.LevelWarn:
		c.warn.Add(1)
	default:
		return nil
	}
	words := strings.Fields(r.Message)
	key := r.Level.String() + " " + strings.Join(words[:min(4, len(words))], " ")
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
	return fmt.Sprintf("probes failed %d, members marked failed %d, refutations %d, handler queue full %d; warnings %d, errors %d",
		c.probeFailed.Load(), c.markedFailed.Load(), c.refuted.Load(), c.queueFull.Load(), c.warn.Load(), c.errs.Load())
}

// quantiles returns the min, median, p90, p99 and max of sorted ds, and
// if scale is not 1, the same divided by scale.
func quantiles(ds []time.Duration, scale float64) string {
	if len(ds) == 0 {
		return "none"
	}
	qs := []float64{0, 0.5, 0.9, 0.99, 1}
	format := func(div float64) string {
		var v []any
		for _, q := range qs {
			v = append(v, time.Duration(float64(ds[int(q*float64(len(ds)-1))])/div).Round(time.Millisecond))
		}
		return fmt.Sprintf("min %v, median %v, p90 %v, p99 %v, max %v", v...)
	}
	if scale == 1 {
		return format(1)
	}
	return fmt.Sprintf("%s (at the local profile's pace, / %v: %s)", format(1), scale, format(scale))
}
