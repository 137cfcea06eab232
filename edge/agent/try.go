package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"meridian/checks"
	"meridian/rpc"
	"meridian/wasm"
)

// maxTryArgs caps the arguments of checks.try, as a check definition's.
const maxTryArgs = 64 << 10

// try is checks.try: run a module once on this node (or on the node the
// call names, through its agent) and report what it found.
func (a *Agent) try(ctx context.Context, p *rpc.ChecksTryParams) (*rpc.ChecksTryResult, error) {
	if p.Node != "" && p.Node != a.cfg.Node {
		return a.tryOn(ctx, p)
	}
	if err := rpc.ValidateModuleRef("module", p.Module); err != nil {
		return nil, err
	}
	if len(p.Args) > maxTryArgs {
		return nil, rpc.InvalidParams("field \"args\": over %d bytes", maxTryArgs)
	}
	if len(p.Args) > 0 && !json.Valid(p.Args) {
		return nil, rpc.InvalidParams("field \"args\": not valid JSON")
	}
	for i, g := range p.Grants {
		if err := wasm.ValidateGrants([]string{g}); err != nil {
			return nil, rpc.InvalidParams("field \"grants[%d]\": %v", i, err)
		}
	}
	if p.Timeout < 0 {
		return nil, rpc.InvalidParams("field \"timeout\": negative")
	}
	src := a.cfg.Checks.Modules
	if src == nil {
		return nil, fmt.Errorf("%w: node %q does not run WASM checks", rpc.ErrUnavailable, a.cfg.Node)
	}
	m, err := src.Module(ctx, p.Module)
	if err != nil {
		return nil, fmt.Errorf("module %q: %w", p.Module, err)
	}
	res := m.Run(ctx, wasm.Check{Name: "try", Args: p.Args, Grants: p.Grants,
		Limits: wasm.Limits{Timeout: time.Duration(p.Timeout)}})
	return &rpc.ChecksTryResult{Node: a.cfg.Node, Status: checks.WASMStatus(res.Status), Output: res.Output,
		DurationMS: float64(res.Duration.Microseconds()) / 1000, Refused: res.Refused}, nil
}

// tryOn hands the call to the agent of p.Node, found through gossip.
func (a *Agent) tryOn(ctx context.Context, p *rpc.ChecksTryParams) (*rpc.ChecksTryResult, error) {
	var addr string
	if a.cfg.Members != nil {
		for _, m := range a.cfg.Members(false) {
			if m.Name == p.Node && m.Status == "alive" {
				addr = m.RPCAddr
			}
		}
	}
	if addr == "" {
		return nil, rpc.ErrNotFoundf("no live agent %q in the gossip pool", p.Node)
	}
	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{addr}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out rpc.ChecksTryResult
	if err := c.Call(ctx, rpc.MethodChecksTry, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
