// Package servertest starts real Meridian servers inside a test process:
// each with its own dragonboat NodeHost on a free loopback port, its own
// data directory, and a JSON-RPC server that calls reach in-process.
//
//	c := servertest.Start(t, servertest.Options{Servers: 3})
//	var res rpc.KVPutResult
//	c.Call(t, 0, "kv.put", rpc.KVPutParams{Key: "a", Value: []byte("1")}, &res)
//
// Multi-process clusters (real binaries, SIGKILL) are in package
// meridian/integration/cluster.
package servertest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"meridian/integration/freeport"
	"meridian/rpc"
	"meridian/server"
	"meridian/server/raftnode"
)

// Options of a test cluster.
type Options struct {
	Servers  int // default 1
	KVShards int // default 4
	// Configure, if set, adjusts each server's config before it starts.
	Configure func(i int, cfg *server.Config)
}

// Cluster is a set of in-process servers of one datacenter.
type Cluster struct {
	Servers []*server.Server
	APIs    []*rpc.Server
	Configs []server.Config
}

// FreePort returns a loopback address with a port nothing listens on now.
// dragonboat needs a real port (no :0); freeport picks it outside the
// ephemeral range, where no other test's bind to :0 or outgoing connection
// can take it first. A port taken anyway makes the start fail loudly.
func FreePort(t testing.TB) string {
	t.Helper()
	return freeport.Addr(t)
}

// Start starts the servers and waits until every shard has a leader.
// Everything is stopped by t.Cleanup.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Servers == 0 {
		o.Servers = 1
	}
	if o.KVShards == 0 {
		o.KVShards = 4
	}
	// Distinct ports: a port just closed can be handed out again at once.
	peers := make([]rpc.Peer, o.Servers)
	seen := map[string]bool{}
	for i := range peers {
		addr := FreePort(t)
		for seen[addr] {
			addr = FreePort(t)
		}
		seen[addr] = true
		peers[i] = rpc.Peer{Node: fmt.Sprintf("s%d", i+1), RaftAddr: addr}
	}
	// dragonboat logs through slog from here on (once per process).
	raftnode.RouteLogs(slog.New(slog.NewTextHandler(os.Stderr, nil)), slog.LevelError)
	c := &Cluster{}
	for i := range peers {
		cfg := server.DefaultConfig()
		cfg.Node = peers[i].Node
		cfg.DataDir = t.TempDir()
		cfg.KVShards = o.KVShards
		cfg.Peers = peers
		cfg.RaftAddr = peers[i].RaftAddr
		cfg.Raft.LogDBProfile = "tiny"
		// Leader moves would fail writes in flight at random moments;
		// balancing has its own test in raftnode.
		cfg.Raft.BalanceInterval = 0
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", cfg.Node)
		if o.Configure != nil {
			o.Configure(i, &cfg)
		}
		c.Configs = append(c.Configs, cfg)
		c.startOne(t, i)
	}
	c.WaitReady(t)
	return c
}

func (c *Cluster) startOne(t testing.TB, i int) {
	t.Helper()
	s, err := server.New(c.Configs[i])
	if err != nil {
		t.Fatalf("servertest: start %s: %v", c.Configs[i].Node, err)
	}
	api := rpc.NewServer(rpc.DefaultServerConfig())
	s.Register(api)
	t.Cleanup(s.Close)
	if i < len(c.Servers) {
		c.Servers[i], c.APIs[i] = s, api
		return
	}
	c.Servers = append(c.Servers, s)
	c.APIs = append(c.APIs, api)
}

// Restart closes server i and starts it again on the same data directory.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.Servers[i].Close()
	c.startOne(t, i)
}

// WaitReady waits until every server sees a leader for every shard.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range c.Servers {
		if err := s.WaitReady(ctx); err != nil {
			t.Fatalf("servertest: %v", err)
		}
	}
}

// Call invokes method on server i through its JSON-RPC layer and decodes
// the result into out. It fails the test on an RPC error.
func (c *Cluster) Call(t testing.TB, i int, method string, params, out any) {
	t.Helper()
	if err := c.TryCall(i, method, params, out); err != nil {
		t.Fatalf("%s on server %d: %v", method, i, err)
	}
}

// TryCall is Call returning the RPC error (an *rpc.Error) instead.
func (c *Cluster) TryCall(i int, method string, params, out any) error {
	return c.TryCallCtx(context.Background(), i, method, params, out)
}

// TryCallCtx is TryCall with a context.
func (c *Cluster) TryCallCtx(ctx context.Context, i int, method string, params, out any) error {
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": json.RawMessage(p)})
	resp := c.APIs[i].Handle(ctx, req)
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *rpc.Error      `json:"error"`
	}
	if err := json.Unmarshal(resp, &env); err != nil {
		return fmt.Errorf("servertest: bad response %q: %v", resp, err)
	}
	if env.Error != nil {
		return env.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Result, out)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
