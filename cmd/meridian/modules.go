package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"

	"meridian/edge/modules"
	"meridian/rpc"
	"meridian/wasm"
)

// wasmChecks runs a node's WASM checks: the wazero runtime (compiled code
// cached under DATA/wasm-cache) and the module store (DATA/modules), made
// on first use so that a node without WASM checks never pays for them.
type wasmChecks struct {
	dataDir string
	servers rpc.Transport
	log     *slog.Logger

	once  sync.Once
	rt    *wasm.Runtime
	store *modules.Store
	err   error
}

// Module implements checks.ModuleSource.
func (w *wasmChecks) Module(ctx context.Context, ref string) (*wasm.Module, error) {
	w.once.Do(func() {
		// Keep one idle instance per check (up to 1,024 per module): an
		// instance is kept per check's arguments and grants, and a fresh
		// one costs 20-30x a warm run (docs/performance.md).
		cfg := wasm.Config{Logger: w.log.With("component", "wasm"), MaxIdle: 1024}
		dir := ""
		if w.dataDir != "" {
			cfg.CacheDir = filepath.Join(w.dataDir, "wasm-cache")
			dir = filepath.Join(w.dataDir, "modules")
		}
		if w.rt, w.err = wasm.New(context.Background(), cfg); w.err != nil {
			return
		}
		w.store, w.err = modules.New(modules.Config{Dir: dir, Runtime: w.rt, Servers: w.servers,
			Logger: w.log.With("component", "modules")})
	})
	if w.err != nil {
		return nil, w.err
	}
	return w.store.Module(ctx, ref)
}

// close releases the modules and the runtime (after the checks stopped).
func (w *wasmChecks) close() {
	w.once.Do(func() {}) // no start after close
	if w.store != nil {
		w.store.Close(context.Background())
	}
	if w.rt != nil {
		_ = w.rt.Close(context.Background())
	}
}
