package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"meridian/rpc"
	"meridian/wasm"
)

// Run with: go test -run '^$' -bench WASM -count 5 ./checks/
//
// CPU figures (cpu-µs/run, cpu-%) are getrusage of the test process: user
// and system time of every thread, garbage collection included. The
// module source is the in-memory testModuleSource, so they leave out what
// an edge's source costs to find a module (a map lookup when cached).
//
// Guests (wasm/testdata): "pass" imports nothing and returns 0; "args"
// reads its arguments and sets them as its output (three host calls); "go"
// is goguest.wasm, a Go reactor doing the same as "args".

var benchGuests = []struct{ name, file string }{
	{"pass", "pass"},
	{"args", "args"},
	{"go", "goguest"},
}

var discardLogger = slog.New(slog.DiscardHandler)

// BenchmarkWASMRun is one probe of a wasm check on a warm instance: the
// module lookup, the slot, the run and the status mapping.
func BenchmarkWASMRun(b *testing.B) {
	for _, g := range benchGuests {
		b.Run(g.name, func(b *testing.B) { benchWASMProbe(b, g.file, wasm.Config{}) })
	}
}

// BenchmarkWASMInstantiate is one probe with a fresh instance every time
// (wasm.Config.MaxIdle negative keeps none): what a run costs when its
// instance was not kept, e.g. after a trap, or when more checks run a
// module than it keeps idle instances (wasm.Config.MaxIdle, 8 by default).
func BenchmarkWASMInstantiate(b *testing.B) {
	for _, g := range benchGuests {
		b.Run(g.name, func(b *testing.B) { benchWASMProbe(b, g.file, wasm.Config{MaxIdle: -1}) })
	}
}

func benchWASMProbe(b *testing.B, file string, cfg wasm.Config) {
	cfg.Logger = discardLogger
	src := newTestModuleSource(b, cfg)
	src.point(file, file)
	r := newRunner(b, Config{Modules: src, Logger: discardLogger})
	def := wasmCheck("bench", file, time.Second)
	def.Args = json.RawMessage(`{"url":"http://127.0.0.1:8080/health"}`)
	if err := validate(def, r.cfg.MinInterval); err != nil {
		b.Fatal(err)
	}
	def = Normalize(def)
	p, err := newWASMProber(r, def)
	if err != nil {
		b.Fatal(err)
	}
	probe := func() {
		ctx, cancel := context.WithTimeout(context.Background(), def.Timeout.Std())
		res := p.probe(ctx)
		cancel()
		if res.status != rpc.HealthPassing {
			b.Fatalf("%s %q", res.status, res.output)
		}
	}
	probe() // the first run makes the instance (and runs a reactor's _initialize)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		probe()
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/run")
}

// BenchmarkWASMMemory registers N wasm checks with distinct arguments,
// runs each once, and reports the growth of the live heap and of the RSS
// per check, past the loaded module (reported apart: module-*-MB). "idle8" is the wasm runtime's default (8 idle instances per
// module: the checks' instances are not kept); "warm" keeps one instance
// per check (MaxIdle N), which is what a warm run needs.
func BenchmarkWASMMemory(b *testing.B) {
	for _, bc := range []struct {
		name, file string
		checks     int
		maxIdle    int
	}{
		{"args/idle8", "args", 1000, 0},
		{"args/warm", "args", 1000, 1000},
		{"go/idle8", "goguest", 100, 0},
		{"go/warm", "goguest", 100, 100},
	} {
		b.Run(fmt.Sprintf("%s/%d", bc.name, bc.checks), func(b *testing.B) {
			for b.Loop() {
				heap0, rss0 := liveHeap(), rss()
				src := newTestModuleSource(b, wasm.Config{Logger: discardLogger, MaxIdle: bc.maxIdle})
				src.point(bc.file, bc.file)
				clk := newFakeClock()
				r := newRunner(b, Config{Modules: src, Clock: clk, Logger: discardLogger})
				heap1, rss1 := liveHeap(), rss()
				for i := range bc.checks {
					def := wasmCheck(fmt.Sprintf("c%d", i), bc.file, time.Second)
					def.Args = json.RawMessage(`{"check":` + strconv.Itoa(i) + `}`)
					mustAdd(b, r, def)
				}
				clk.waitArmed(b, bc.checks)
				clk.step(b, time.Second, bc.checks) // each check runs once
				for _, st := range r.States() {
					if st.Status != rpc.HealthPassing {
						b.Fatalf("%s: %s %q", st.ID, st.Status, st.Output)
					}
				}
				heap2, rss2 := liveHeap(), rss()
				b.ReportMetric(float64(heap1-heap0)/(1<<20), "module-heap-MB")
				b.ReportMetric(float64(rss1-rss0)/(1<<20), "module-rss-MB")
				b.ReportMetric(float64(heap2-heap1)/1024/float64(bc.checks), "heap-KB/check")
				b.ReportMetric(float64(rss2-rss1)/1024/float64(bc.checks), "rss-KB/check")
				runtime.KeepAlive(src)
				r.Close()
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkWASMRunner runs wasm checks with distinct arguments through a
// Runner and measures the process's CPU over a window, as a share of one
// core ("cpu-%") and per run. "idle8" and "warm" as in BenchmarkWASMMemory:
// with the wasm runtime's default of 8 idle instances per module, nearly
// every run of 1,000 checks makes a fresh instance. "nomodule" is the
// baseline: the source knows no such module, so each probe is the
// runner's scheduling and a failed lookup, without a wasm run.
func BenchmarkWASMRunner(b *testing.B) {
	for _, bc := range []struct {
		name     string
		file     string // "" = no module (baseline)
		checks   int
		interval time.Duration
		maxIdle  int
	}{
		{"args/1000x10s/idle8", "args", 1000, 10 * time.Second, 0},
		{"args/1000x10s/warm", "args", 1000, 10 * time.Second, 1000},
		{"nomodule/1000x10s", "", 1000, 10 * time.Second, 0},
		{"args/1000x1s/idle8", "args", 1000, time.Second, 0},
		{"args/1000x1s/warm", "args", 1000, time.Second, 1000},
		{"nomodule/1000x1s", "", 1000, time.Second, 0},
		{"go/100x10s/idle8", "goguest", 100, 10 * time.Second, 0},
		{"go/100x10s/warm", "goguest", 100, 10 * time.Second, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := newTestModuleSource(b, wasm.Config{Logger: discardLogger, MaxIdle: bc.maxIdle})
			module, want := "missing", rpc.HealthCritical
			if bc.file != "" {
				module, want = "m", rpc.HealthPassing
				src.point(module, bc.file)
			}
			r := newRunner(b, Config{Modules: src, MinInterval: time.Second, Logger: discardLogger})
			for i := range bc.checks {
				def := wasmCheck(fmt.Sprintf("c%d", i), module, bc.interval)
				def.Args = json.RawMessage(`{"check":` + strconv.Itoa(i) + `}`)
				mustAdd(b, r, def)
			}
			// Let every check run once (the stagger is up to one interval):
			// the window sees the steady state, two intervals (at least 5s).
			time.Sleep(bc.interval + 500*time.Millisecond)
			window := max(2*bc.interval, 5*time.Second)
			for b.Loop() {
				p0, cpu0, t0 := r.probes.Load(), cpuTime(), time.Now()
				time.Sleep(window)
				probes, cpu, wall := r.probes.Load()-p0, cpuTime()-cpu0, time.Since(t0)
				b.ReportMetric(float64(probes)/wall.Seconds(), "runs/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(probes), "cpu-µs/run")
				b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			}
			for _, st := range r.States() {
				if st.Status != want {
					b.Fatalf("%s: %s %q", st.ID, st.Status, st.Output)
				}
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// liveHeap is the heap in use after a collection (which also returns
// free memory to the OS, for rss).
func liveHeap() int64 {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// rss is the resident set size of the process (Linux; 0 elsewhere).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
