// Package checks runs a node's health checks: it validates check
// definitions, schedules them and turns probe results into status changes,
// as Consul's agent does.
//
// Kinds, one file each: http (2xx passing, 429 warning, else critical),
// tcp (connect), ttl (the service reports; critical when it stops), wasm
// (a WebAssembly module run in package wasm's sandbox; docs/wasm-abi.md).
// A wasm check gets its module from Config.Modules, a ModuleSource, at
// every run, so a module name moved to another digest takes effect at the
// next run; Config.MaxWASMRuns bounds the runs in progress at once. kind.go
// says how a kind plugs in.
//
// The edge agent owns one Runner, feeds it the node's definitions and
// sends the changes it is told of to the servers:
//
//	r, err := checks.New(checks.Config{
//		Logger:  logger,
//		Notify:  func(u checks.Update) { batcher.Add(u) }, // one call at a time
//		Modules: moduleCache, // a checks.ModuleSource; nil refuses wasm checks
//	})
//	if err != nil { ... }
//	defer r.Close()
//
//	def.ID = "service:web" // the agent assigns IDs
//	if err := r.Add(def); err != nil {
//		return err // a *checks.FieldError names the field, e.g. "interval"
//	}
//	...
//	r.UpdateTTL("service:api", rpc.HealthPassing, "ok") // agent.check.pass
//	r.Remove("service:web")
//	states := r.States() // for agent.checks and anti-entropy
//
// Status transitions: a check starts with its initial status (critical
// unless the definition says otherwise). Probe results go through Consul's
// thresholds: passing and warning results count as successes, critical
// ones as failures, each resetting the other count; a success takes
// effect after success_before_passing of them in a row, a failure after
// failures_before_critical in a row, and a result held back changes
// nothing. As in Consul the counts start full, so the first result after
// Add takes effect at once. ttl updates and expiries bypass thresholds.
// Notify is called only when the status changes; a new output with the
// same status updates the State but is not notified, so output churn never
// becomes a catalog write.
//
// Goroutines, all owned by the Runner's WaitGroup and stopped by Close:
//
//   - one per check: waits a random stagger within its interval, then
//     probes every interval (http, tcp, wasm), or waits for its TTL (ttl). A
//     probe runs with the check's timeout and is cancelled by Remove,
//     Close, or Add replacing the check.
//   - one notifier, when Config.Notify is set: delivers queued changes.
package checks
