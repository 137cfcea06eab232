package wasm

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunStatus(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		guest  string
		status int
		output string // substring
	}{
		{"pass", Passing, ""},
		{"warn", Warning, ""},
		{"crit", Critical, ""},
		{"seven", Critical, "meridian: check returned 7: anything but 0, 1, 2 is critical"},
		{"output", Passing, "all good: 3 of 3 replicas up"},
		{"stdout", Passing, "hello from stdout\nand stderr\n"},
		{"command", Passing, ""},
		{"maxed", Passing, ""},
		{"badutf8", Passing, "ok \uFFFD done"},
		{"unreachable", Critical, "meridian: check trapped: wasm error: unreachable"},
		{"oob", Critical, "meridian: check trapped: wasm error: out of bounds memory access"},
		{"recurse", Critical, "meridian: check trapped: stack overflow"},
		{"exit", Warning, "meridian: check exited with code 1"},
		{"bigmem", Critical, "module needs 300 pages of memory to start, the limit is 256 (16 MiB)"},
	} {
		t.Run(tc.guest, func(t *testing.T) {
			m := load(t, rt, tc.guest)
			defer m.Close(ctx)
			for run := range 2 { // the second run shows the module recovered
				res := m.Run(ctx, Check{})
				if res.Status != tc.status || !strings.Contains(res.Output, tc.output) {
					t.Fatalf("run %d: status %d output %q; want %d with %q", run, res.Status, res.Output, tc.status, tc.output)
				}
				if tc.output == "" && res.Output != "" {
					t.Fatalf("run %d: unexpected output %q", run, res.Output)
				}
				if res.Duration <= 0 {
					t.Fatalf("run %d: duration %v", run, res.Duration)
				}
			}
		})
	}
}

func TestRunArgs(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := load(t, rt, "args")
	args := `{"url":"http://127.0.0.1/health","want":"ok"}`
	res := m.Run(context.Background(), Check{Args: json.RawMessage(args)})
	if res.Status != Passing || res.Output != args {
		t.Fatalf("%+v", res)
	}
	// No arguments: args_len is 0.
	if res := m.Run(context.Background(), Check{}); res.Status != Passing || res.Output != "" {
		t.Fatalf("no args: %+v", res)
	}
}

func TestRunLog(t *testing.T) {
	logger, logs := newTestLogger(t)
	rt := newRuntime(t, Config{Logger: logger})
	m := load(t, rt, "log")
	res := m.Run(context.Background(), Check{Name: "logger"})
	if res.Status != Passing {
		t.Fatalf("%+v", res)
	}
	if !strings.Contains(res.Output, "log records dropped") {
		t.Fatalf("output does not say records were dropped: %q", res.Output)
	}
	got := logs.String()
	for _, want := range []string{"level=DEBUG msg=\"debug line\"", "level=INFO msg=\"info line\"",
		"level=WARN msg=\"warn line\"", "level=ERROR msg=\"error line\"", "check=logger", "module=" + m.short} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "source=guest"); n != maxLogRecords {
		t.Errorf("%d guest records logged, want %d", n, maxLogRecords)
	}
}

func TestRunNow(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rt := newRuntime(t, Config{Clock: func() time.Time { return at }})
	res := load(t, rt, "now").Run(context.Background(), Check{})
	if res.Status != Passing || res.Output != strconv.FormatInt(at.UnixMilli(), 10) {
		t.Fatalf("%+v, want output %d", res, at.UnixMilli())
	}
}

func TestRunOutputCap(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := load(t, rt, "flood")
	for _, max := range []int{0, 100, 10000} { // 0: the default, 4 KiB
		res := m.Run(context.Background(), Check{Limits: Limits{MaxOutput: max}})
		want := max
		if max == 0 {
			want = defaultMaxOutput
		}
		if res.Status != Passing || len(res.Output) > want || !strings.Contains(res.Output, "output truncated") {
			t.Fatalf("MaxOutput %d: status %d, %d bytes: %.200q", max, res.Status, len(res.Output), res.Output)
		}
	}
}

// TestRunTimeout: a module that loops forever is stopped at its deadline,
// the check is critical, other checks run meanwhile, and the next run of
// the module works.
func TestRunTimeout(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	loop, pass := load(t, rt, "loop"), load(t, rt, "pass")
	var wg sync.WaitGroup
	var res Result
	wg.Go(func() {
		res = loop.Run(ctx, Check{Limits: Limits{Timeout: 300 * time.Millisecond}})
	})
	for range 20 {
		if r := pass.Run(ctx, Check{}); r.Status != Passing {
			t.Errorf("other check during the loop: %+v", r)
		}
	}
	wg.Wait()
	if res.Status != Critical || !strings.Contains(res.Output, "meridian: check timed out after 300ms") {
		t.Fatalf("%+v", res)
	}
	if res.Duration > 3*time.Second {
		t.Fatalf("stopped after %v", res.Duration)
	}
	// A parent deadline earlier than the check's own.
	pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if r := loop.Run(pctx, Check{}); r.Status != Critical || !strings.Contains(r.Output, "timed out after") {
		t.Fatalf("parent deadline: %+v", r)
	}
	// A cancelled parent.
	cctx, cancel2 := context.WithCancel(ctx)
	cancel2()
	if r := loop.Run(cctx, Check{}); r.Status != Critical || !strings.Contains(r.Output, "not run: context canceled") {
		t.Fatalf("cancelled parent: %+v", r)
	}
	if r := pass.Run(ctx, Check{}); r.Status != Passing {
		t.Fatalf("after the loop: %+v", r)
	}
}

// TestRunStartLoops: a start function or _initialize that never returns
// is stopped at the check's deadline too.
func TestRunStartLoops(t *testing.T) {
	rt := newRuntime(t, Config{})
	for _, name := range []string{"startloop", "initloop"} {
		res := load(t, rt, name).Run(context.Background(), Check{Limits: Limits{Timeout: 200 * time.Millisecond}})
		if res.Status != Critical || !strings.Contains(res.Output, "check timed out after 200ms (while starting the module)") {
			t.Fatalf("%s: %+v", name, res)
		}
	}
}

// TestRunCloseRuntime: closing the runtime stops a running check, which
// ends critical.
func TestRunCloseRuntime(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := load(t, rt, "loop")
	done := make(chan Result)
	go func() { done <- m.Run(context.Background(), Check{Limits: Limits{Timeout: 30 * time.Second}}) }()
	time.Sleep(50 * time.Millisecond) // let it start; the result is the same if it has not
	rt.Close(context.Background())
	select {
	case res := <-done:
		if res.Status != Critical || !strings.Contains(res.Output, "runtime closed") {
			t.Fatalf("%+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the running check")
	}
}

// TestRunSleep: a WASI sleep of an hour ends at the check's deadline.
func TestRunSleep(t *testing.T) {
	rt := newRuntime(t, Config{})
	res := load(t, rt, "sleep").Run(context.Background(), Check{Limits: Limits{Timeout: 200 * time.Millisecond}})
	if res.Status != Critical || !strings.Contains(res.Output, "timed out after 200ms") || res.Duration > 3*time.Second {
		t.Fatalf("%+v", res)
	}
}

func TestRunMemoryLimit(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := load(t, rt, "grow")
	for _, pages := range []uint32{32, 0} {
		res := m.Run(context.Background(), Check{Limits: Limits{MemoryPages: pages}})
		want := "memory limit of 32 pages (2 MiB) reached"
		if pages == 0 {
			want = "memory limit of 256 pages (16 MiB) reached"
		}
		if res.Status != Critical || !strings.Contains(res.Output, want) {
			t.Fatalf("pages %d: %+v", pages, res)
		}
	}
	// A limit above the cap is lowered to it.
	small := newRuntime(t, Config{Caps: Limits{MemoryPages: 64}})
	res := load(t, small, "grow").Run(context.Background(), Check{Limits: Limits{MemoryPages: 1000}})
	if res.Status != Critical || !strings.Contains(res.Output, "memory limit of 64 pages (4 MiB) reached") {
		t.Fatalf("capped: %+v", res)
	}
}

// TestInstanceReuse: an instance serves the next run of the same check,
// not another check; _initialize runs once per instance; a trap or a
// time-out throws the instance away.
func TestInstanceReuse(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	m := load(t, rt, "counter")
	a := Check{Args: json.RawMessage(`"a"`)}
	b := Check{Args: json.RawMessage(`"b"`)}
	if r := m.Run(ctx, a); r.Status != Passing {
		t.Fatalf("first run of a: %+v", r)
	}
	if r := m.Run(ctx, a); r.Status != Warning {
		t.Fatalf("second run of a did not reuse the instance: %+v", r)
	}
	if r := m.Run(ctx, b); r.Status != Passing {
		t.Fatalf("first run of b reused a's instance: %+v", r)
	}
	if r := m.Run(ctx, Check{Args: a.Args, Limits: Limits{MemoryPages: 8}}); r.Status != Passing {
		t.Fatalf("a with another memory limit reused a's instance: %+v", r)
	}
	// No pooling at all.
	rt2 := newRuntime(t, Config{MaxIdle: -1})
	m2 := load(t, rt2, "counter")
	for range 2 {
		if r := m2.Run(ctx, a); r.Status != Passing {
			t.Fatalf("MaxIdle -1: %+v", r)
		}
	}
}

func TestRunConcurrent(t *testing.T) {
	rt := newRuntime(t, Config{MaxIdle: 2})
	ctx := context.Background()
	m := load(t, rt, "counter")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := Check{Args: json.RawMessage(strconv.Itoa(i % 3))}
			for range 20 {
				if r := m.Run(ctx, c); r.Status == Critical {
					t.Errorf("%+v", r)
				}
			}
		})
	}
	wg.Wait()
	m.mu.Lock()
	idle := len(m.idle)
	m.mu.Unlock()
	if idle > 2 {
		t.Fatalf("%d idle instances, MaxIdle is 2", idle)
	}
}
