package checks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"meridian/rpc"
	"meridian/wasm"
)

// The wasm kind: the check runs a WebAssembly module (docs/wasm-abi.md) in
// package wasm's sandbox. Each probe asks Config.Modules for the module
// def.Module designates now (so a name moved to another digest is picked
// up by the next run), waits for one of Config.MaxWASMRuns slots, and runs
// the module with def.Args, def.Grants and the limits {memory_pages,
// timeout, max_network_bytes}. The module's status (0 passing, 1 warning,
// 2 or anything else critical) is the check's; its output (set_output, or
// its stdout and stderr, then the sandbox's "meridian: " lines) is the
// check's output. The check's timeout covers all of it: getting the
// module, waiting for a slot and the run.

// ModuleSource gives wasm checks their modules.
type ModuleSource interface {
	// Module returns the loaded module that ref (a hex sha256 digest, or a
	// name pointing at one) designates now. It may fetch and compile; ctx
	// bounds it. The source owns the modules: callers never Close them.
	Module(ctx context.Context, ref string) (*wasm.Module, error)
}

// wasmCaps are the most a check definition may ask for (Validate): the
// caps of package wasm's default configuration.
var wasmCaps = wasm.DefaultConfig().Caps

type wasmProber struct {
	modules ModuleSource
	slots   chan struct{} // Runner.wasmSlots
	ref     string
	check   wasm.Check
	timeout time.Duration
}

func newWASMProber(r *Runner, def rpc.CheckDefinition) (prober, error) {
	if r.cfg.Modules == nil {
		return nil, fmt.Errorf("%w: wasm (the runner has no module source)", ErrUnsupportedKind)
	}
	return &wasmProber{
		modules: r.cfg.Modules,
		slots:   r.wasmSlots,
		ref:     def.Module,
		check: wasm.Check{
			Name:   def.ID,
			Args:   def.Args,   // Normalize copied them: nothing else holds them
			Grants: def.Grants, // ditto
			Limits: wasm.Limits{
				MemoryPages:     def.MemoryPages,
				Timeout:         def.Timeout.Std(),
				MaxNetworkBytes: def.MaxNetworkBytes,
			},
		},
		timeout: def.Timeout.Std(),
	}, nil
}

func (p *wasmProber) probe(ctx context.Context) result {
	m, err := p.modules.Module(ctx, p.ref)
	if err == nil && m == nil {
		err = errors.New("the module source returned no module")
	}
	if err != nil {
		return result{rpc.HealthCritical, fmt.Sprintf("module %q: %s", p.ref, describeErr(ctx, err, p.timeout))}
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return result{rpc.HealthCritical, fmt.Sprintf("timed out after %s waiting for a WASM slot (%d runs at a time)", p.timeout, cap(p.slots))}
		}
		return result{rpc.HealthCritical, "canceled waiting for a WASM slot"}
	}
	res := m.Run(ctx, p.check)
	<-p.slots
	return result{WASMStatus(res.Status), res.Output}
}

// WASMStatus maps a module's status (wasm.Passing, ...) to a check's
// (rpc.HealthPassing, ...): anything but passing or warning is critical.
func WASMStatus(s int) string {
	switch s {
	case wasm.Passing:
		return rpc.HealthPassing
	case wasm.Warning:
		return rpc.HealthWarning
	}
	return rpc.HealthCritical
}
