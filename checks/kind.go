package checks

import (
	"context"

	"meridian/rpc"
)

// A kind of check is a file of this package with a prober and an entry in
// kinds. Periodic kinds (http, tcp; wasm next) have a prober that the
// runner calls every interval; ttl has none: it is told its status.
//
// Adding wasm: wasm.go with newWASMProber (using what Config gains for it,
// e.g. a module source), and rpc.CheckWASM: {newProber: newWASMProber}
// below. Validate already knows the kind.

// prober runs one probe of one check. The runner calls probe from the
// check's own goroutine, one call at a time, with a context that ends at
// the check's timeout or when the check is removed; probe must return
// promptly once ctx is done. Its result's output may be of any length:
// the runner caps it.
type prober interface {
	probe(ctx context.Context) result
}

// result is what one probe found.
type result struct {
	status string // rpc.HealthPassing, HealthWarning or HealthCritical
	output string
}

// kindSpec is how the runner runs a kind.
type kindSpec struct {
	// newProber makes the prober of a normalized, valid definition; nil
	// for kinds that are not probed (ttl).
	newProber func(r *Runner, def rpc.CheckDefinition) (prober, error)
}

var kinds = map[string]kindSpec{
	rpc.CheckHTTP: {newProber: newHTTPProber},
	rpc.CheckTCP:  {newProber: newTCPProber},
	rpc.CheckTTL:  {},
}
