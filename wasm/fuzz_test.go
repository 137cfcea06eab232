package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzValidate: Validate never panics and never hangs on any bytes, and
// what it accepts can be run without harming the host. The seeds are in
// testdata/fuzz/FuzzValidate; the current test guests are added too.
func FuzzValidate(f *testing.F) {
	wasms, _ := filepath.Glob("testdata/*.wasm")
	for _, w := range wasms {
		if filepath.Base(w) == "goguest.wasm" {
			continue // large and slow to compile: not a useful fuzz seed
		}
		b, err := os.ReadFile(w)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	logger, _ := newTestLogger(f)
	rt := newRuntime(f, Config{MaxModuleBytes: 1 << 20, Logger: logger})
	sentinels := []error{ErrTooLarge, ErrNotWasm, ErrInvalidModule, ErrImport, ErrEntryPoint}
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		done := make(chan struct{})
		timer := time.AfterFunc(20*time.Second, func() {
			select {
			case <-done:
			default:
				panic("Validate did not return within 20 s")
			}
		})
		defer timer.Stop()
		info, err := rt.Validate(ctx, b)
		close(done)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wasm: ") {
				t.Fatalf("error without the wasm: prefix: %v", err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if info.Size != len(b) || info.ABIVersion != ABIVersion {
			t.Fatalf("info %+v for %d bytes", info, len(b))
		}
		m, err := rt.Load(ctx, b)
		if err != nil {
			t.Fatalf("Validate accepted what Load refuses: %v", err)
		}
		defer m.Close(ctx)
		res := m.Run(ctx, Check{Limits: Limits{Timeout: 50 * time.Millisecond, MemoryPages: 16, MaxNetworkBytes: 1}})
		if res.Status < Passing || res.Status > Critical || res.Duration > 10*time.Second {
			t.Fatalf("run: %+v", res)
		}
	})
}
