package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	edgeagent "meridian/edge/agent"
	"meridian/edge/gossip"
	"meridian/rpc"
)

// node is what every role runs for its own machine: the LAN gossip pool
// and the agent with the node's services and checks.
type node struct {
	lan     *lan
	agent   *edgeagent.Agent
	wasm    *wasmChecks
	servers func() []string
	wan     atomic.Pointer[wan] // a server's WAN pool, once it runs

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// startNode joins the LAN pool and builds the agent; catalog writes go
// over to.
func startNode(ctx context.Context, f agentFlags, role string, meta gossip.Meta, to rpc.Transport, log *slog.Logger) (*node, error) {
	meta.DC, meta.Version = f.dc, version
	gc := gossip.DefaultConfig()
	gc.Name, gc.BindAddr, gc.Meta, gc.Profile, gc.Join = f.node, f.lanAddr, meta, f.gossipProfile, f.join
	l, err := startLAN(gc, log)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	n := &node{lan: l, wasm: &wasmChecks{dataDir: f.dataDir, servers: to, log: log}}
	ac := edgeagent.DefaultConfig()
	ac.Node, ac.DC, ac.Role, ac.Version = f.node, f.dc, role, version
	ac.Address = host(l.pool.Addr())
	ac.Servers = to
	ac.ServerAddrs = func() []string {
		if n.servers == nil {
			return nil
		}
		return n.servers()
	}
	ac.Members = func(wan bool) []rpc.Member {
		if !wan {
			return l.rpcMembers()
		}
		if w := n.wan.Load(); w != nil {
			return w.rpcMembers()
		}
		return nil // an edge, or a server not ready yet: not in the WAN pool
	}
	ac.ConfigDir, ac.DataDir = f.configDir, f.dataDir
	ac.Logger = log.With("component", "agent")
	ac.Checks.Logger = log
	ac.Checks.Modules = n.wasm
	a, err := edgeagent.New(ac)
	if err != nil {
		l.pool.Close()
		return nil, err
	}
	n.agent = a
	return n, nil
}

// run starts the agent's sync loop and calls onChange on every gossip
// change and every 10 s, until ctx ends or the node closes.
func (n *node) run(ctx context.Context, onChange func(context.Context)) {
	ctx, n.cancel = context.WithCancel(ctx)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.agent.Run(ctx) }()
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			onChange(ctx)
			select {
			case <-ctx.Done():
				return
			case <-n.lan.changed:
			case <-t.C:
			}
		}
	}()
}

// leave leaves the pool gracefully: the others deregister this node.
func (n *node) leave() {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if err := n.lan.pool.Leave(2 * time.Second); err != nil {
		n.lan.log.Warn("leaving the LAN pool; the others may report this node failed rather than left", "err", err)
	}
}

// close stops everything at once. Safe to call twice.
func (n *node) close() {
	n.once.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		n.wg.Wait()
		n.agent.Close()
		n.wasm.close()
		n.lan.pool.Close()
	})
}
