package checks

import (
	"context"

	"meridian/rpc"
)

// A kind of check is a file of this package with a prober and an entry in
// kinds. Periodic kinds (http, tcp, wasm) have a prober that the runner
// calls every interval; ttl has none: it is told its status.
//
// Adding a kind: its file with a newXProber (taking what it needs from
// Config, as wasm takes Config.Modules), its entry below, its name in
// Validate's kind list and in periodic, and the validation of its own
// fields (and their refusal on the other kinds) in validate. A newProber
// may refuse a valid definition the runner is not set up to run, with
// ErrUnsupportedKind (wasm without Config.Modules).

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
	rpc.CheckWASM: {newProber: newWASMProber},
}
