package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memKV is an in-memory twin of a store; every failEvery-th call fails.
type memKV struct {
	mu        sync.Mutex
	m         map[string][]byte
	calls     atomic.Int64
	failEvery int64
	puts      atomic.Int64
	gets      atomic.Int64
}

var errInjected = errors.New("injected")

func (k *memKV) fail() error {
	if n := k.calls.Add(1); k.failEvery > 0 && n%k.failEvery == 0 {
		return errInjected
	}
	return nil
}

func (k *memKV) Put(ctx context.Context, key string, value []byte) error {
	if err := k.fail(); err != nil {
		return err
	}
	k.puts.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = value
	return nil
}

func (k *memKV) Get(ctx context.Context, key string) error {
	if err := k.fail(); err != nil {
		return err
	}
	k.gets.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	_ = k.m[key]
	return nil
}

func quick(op string) Config {
	c := DefaultConfig()
	c.Op, c.Clients, c.Keys, c.Duration = op, 4, 50, 150*time.Millisecond
	return c
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      func() Config
		check    func(t *testing.T, r *Result, kv *memKV)
		failEach int64
	}{
		{name: "put", cfg: func() Config { return quick(OpPut) }, check: func(t *testing.T, r *Result, kv *memKV) {
			if kv.gets.Load() != 0 {
				t.Errorf("a put load made %d gets", kv.gets.Load())
			}
			if len(kv.m) == 0 {
				t.Error("nothing was written")
			}
		}},
		{name: "get populates first", cfg: func() Config { return quick(OpGet) }, check: func(t *testing.T, r *Result, kv *memKV) {
			if len(kv.m) != 50 {
				t.Errorf("populated %d keys, want 50", len(kv.m))
			}
			if kv.puts.Load() != 50 {
				t.Errorf("a get load made %d puts, want the 50 of populating", kv.puts.Load())
			}
		}},
		{name: "mixed splits by op", cfg: func() Config { c := quick(OpMixed); c.ReadRatio = 0.5; return c },
			check: func(t *testing.T, r *Result, kv *memKV) {
				if r.ByOp[OpGet].Ops == 0 || r.ByOp[OpPut].Ops == 0 {
					t.Errorf("by op = %+v, want both gets and puts", r.ByOp)
				}
				if r.ByOp[OpGet].Ops+r.ByOp[OpPut].Ops != r.Ops {
					t.Errorf("gets %d + puts %d != ops %d", r.ByOp[OpGet].Ops, r.ByOp[OpPut].Ops, r.Ops)
				}
			}},
		{name: "max ops stops early", cfg: func() Config { c := quick(OpPut); c.Duration, c.MaxOps = 10*time.Second, 100; return c },
			check: func(t *testing.T, r *Result, kv *memKV) {
				if r.Ops != 100 {
					t.Errorf("ops = %d, want 100", r.Ops)
				}
				if r.Seconds > 5 {
					t.Errorf("took %.1fs: -max-ops did not stop the run", r.Seconds)
				}
			}},
		{name: "errors by code", failEach: 10,
			cfg: func() Config {
				c := quick(OpPut)
				c.ErrorCode = func(err error) string {
					if errors.Is(err, errInjected) {
						return "injected"
					}
					return "other"
				}
				return c
			},
			check: func(t *testing.T, r *Result, kv *memKV) {
				if r.Errors == 0 || r.ErrorsByCode["injected"] != r.Errors {
					t.Errorf("errors %d by code %v, want all injected", r.Errors, r.ErrorsByCode)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := &memKV{m: map[string][]byte{}, failEvery: tc.failEach}
			var progress bytes.Buffer
			cfg := tc.cfg()
			cfg.Progress = &progress
			r, err := Run(t.Context(), cfg, kv)
			if err != nil {
				t.Fatal(err)
			}
			if r.Ops == 0 || r.OpsPerSec <= 0 {
				t.Fatalf("ops %d, ops/s %.1f: want some", r.Ops, r.OpsPerSec)
			}
			l := r.LatencyMicros
			if !(l.P50 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("percentiles out of order: %+v", l)
			}
			tc.check(t, r, kv)
		})
	}
}

func TestRunPopulateFails(t *testing.T) {
	kv := &memKV{m: map[string][]byte{}, failEvery: 1}
	cfg := quick(OpGet)
	cfg.OpTimeout = time.Second
	_, err := Run(t.Context(), cfg, kv)
	if !errors.Is(err, errInjected) {
		t.Fatalf("err = %v, want the store's error", err)
	}
}

func TestRunContextCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	cfg := quick(OpPut)
	cfg.Duration = time.Minute
	_, err := Run(ctx, cfg, &memKV{m: map[string][]byte{}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default is valid", func(*Config) {}, ""},
		{"unknown op", func(c *Config) { c.Op = "scan" }, "-op"},
		{"no clients", func(c *Config) { c.Clients = 0 }, "-clients"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "-duration"},
		{"too long", func(c *Config) { c.Duration = 2 * time.Hour }, "-duration"},
		{"ratio", func(c *Config) { c.ReadRatio = 1.5 }, "-read-ratio"},
		{"consistency", func(c *Config) { c.Consistency = "strong" }, "-consistency"},
		{"more folders than keys", func(c *Config) { c.Folders = c.Keys + 1 }, "-folders"},
		{"nested prefix with folders", func(c *Config) { c.Prefix, c.Folders = "a/b/", 2 }, "-prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestKeyNames(t *testing.T) {
	c := DefaultConfig()
	c.Keys, c.Folders = 12, 3
	keys := c.KeyNames()
	if keys[0] != "bench0/k00" || keys[1] != "bench1/k01" || keys[11] != "bench2/k11" {
		t.Fatalf("keys = %v", keys)
	}
	c.Folders = 1
	if got := c.KeyNames()[5]; got != "bench/k05" {
		t.Fatalf("one folder: key 5 = %q, want bench/k05", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:7500":        true,
		"127.3.2.1:7500":        true,
		"localhost:7500":        true,
		"[::1]:7500":            true,
		"http://127.0.0.1:2379": true,
		"10.0.0.1:7500":         false,
		"example.com:7500":      false,
		"http://192.168.1.1:1":  false,
	} {
		if err := CheckLoopback(addr); (err == nil) != ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestResultOutput(t *testing.T) {
	r, err := Run(t.Context(), quick(OpMixed), &memKV{m: map[string][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"total ops:", "ops/s:", "p50 ", "p99 ", "p99.9 ", "max ", "errors:", "get:", "put:"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text result lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Ops != r.Ops || back.LatencyMicros != r.LatencyMicros {
		t.Fatalf("JSON round trip: got %+v, want %+v", back, *r)
	}
}
