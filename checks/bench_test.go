package checks

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"meridian/rpc"
)

// Run with: GOMAXPROCS=1 go test -run '^$' -bench . -count 5 ./checks/
//
// The HTTP server answering the checks (200 "ok") runs in a child process,
// so the CPU figures are the checks' own.

// BenchmarkHTTPCheck runs one http probe after another: latency (ns/op),
// allocations, and CPU per probe.
func BenchmarkHTTPCheck(b *testing.B) {
	addr := benchServer(b)
	r := newRunner(b, Config{Logger: slog.New(slog.DiscardHandler)})
	def := Normalize(httpCheck("bench", "http://"+addr+"/health", time.Second))
	p, err := newHTTPProber(r, def)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), def.Timeout.Std())
		res := p.probe(ctx)
		cancel()
		if res.status != rpc.HealthPassing {
			b.Fatal(res.output)
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/check")
}

// BenchmarkRunner registers many http checks in a Runner and measures,
// over a window, the probes completed per second, the CPU they cost and
// the heap. "1000x1s" is a busy node at a normal interval; "1000x1ms"
// keeps every check probing back to back, to find what one core sustains.
func BenchmarkRunner(b *testing.B) {
	for _, bc := range []struct {
		checks   int
		interval time.Duration
	}{
		{1000, time.Second},
		{1000, time.Millisecond},
	} {
		b.Run(fmt.Sprintf("%dx%s", bc.checks, bc.interval), func(b *testing.B) {
			addr := benchServer(b)
			r := newRunner(b, Config{MinInterval: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
			for i := range bc.checks {
				def := httpCheck(fmt.Sprintf("web-%d", i), "http://"+addr+"/health", bc.interval)
				def.Timeout = dur(10 * time.Second)
				mustAdd(b, r, def)
			}
			// Let every check start (the stagger is up to one interval).
			time.Sleep(bc.interval + 500*time.Millisecond)
			const window = 3 * time.Second
			for b.Loop() {
				p0, cpu0, t0 := r.probes.Load(), cpuTime(), time.Now()
				time.Sleep(window)
				probes, cpu, wall := r.probes.Load()-p0, cpuTime()-cpu0, time.Since(t0)
				b.ReportMetric(float64(probes)/wall.Seconds(), "checks/s")
				b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(probes), "cpu-ms/check")
				b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			}
			for _, st := range r.States() {
				if st.Status != rpc.HealthPassing {
					b.Fatalf("%s: %s %q", st.ID, st.Status, st.Output)
				}
			}
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
			b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
