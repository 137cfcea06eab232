// Package wasm runs health checks written as WebAssembly modules, in a
// wazero sandbox, on edge agents; servers use it to validate modules when
// they are submitted.
//
// A check module exports `check`, of type () -> i32, returning 0
// (passing), 1 (warning) or 2 (critical; any other value is critical too).
// It reaches the outside only through the host functions of the
// "meridian" module (output, log, arguments, clock, HTTP, TCP, DNS), each
// network call checked against the check's grants, and through a few WASI
// preview1 functions (stdout and stderr become the output; clocks;
// randomness). docs/wasm-abi.md is the reference of the ABI.
//
// Usage:
//
//	rt, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(dataDir, "wasm-cache"), Logger: log})
//	if err != nil { ... }
//	defer rt.Close(ctx)
//
//	// On a server, at submission:
//	info, err := rt.Validate(ctx, moduleBytes) // info.Digest, info.Size, info.ABIVersion
//
//	// On an edge, once per module:
//	mod, err := rt.Load(ctx, moduleBytes)
//	if err != nil { ... }
//	defer mod.Close(ctx)
//
//	// At every interval:
//	res := mod.Run(ctx, wasm.Check{
//		Name:   "web-health",
//		Args:   json.RawMessage(`{"url":"http://127.0.0.1:8080/health"}`),
//		Grants: []string{"http://127.0.0.1:8080/health"},
//		Limits: wasm.Limits{Timeout: 5 * time.Second},
//	})
//	// res.Status is wasm.Passing, wasm.Warning or wasm.Critical; res.Output
//	// says why, res.Refused lists the calls the grants refused.
//
// Sandbox: each run has a deadline (a module that loops forever is
// stopped), a memory limit, an output cap and a cap on the bytes it reads
// from the network (Limits; per-check values up to Config.Caps). A trap,
// a time-out, a proc_exit or a memory-limit hit end the run critical (a
// proc_exit code is the status) and the instance is thrown away; otherwise
// the instance is kept for the next run of the same check. Modules are
// compiled once (and cached on disk in Config.CacheDir); reactors (Go
// modules built with -buildmode=c-shared, which export _initialize) run
// _initialize once per instance. _start is never called.
//
// Module.Run never panics and is safe for concurrent use; an instance
// serves one run at a time.
package wasm
