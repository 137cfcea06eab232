package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"meridian/edge/httpfront"
	"meridian/rpc"
	"meridian/server"
	"meridian/server/shard"
)

// agentFlags are the flags of the agent roles; names as in DESIGN.md.
type agentFlags struct {
	node, dc, dataDir         string
	httpAddr, raftAddr, peers string
	kvShards                  int
	logLevel, logDB           string
}

func (f *agentFlags) register(fs *flag.FlagSet, role string) {
	host, _ := os.Hostname()
	fs.StringVar(&f.node, "node", host, "node name, unique in the datacenter")
	fs.StringVar(&f.dc, "dc", "dc1", "datacenter name")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (dev: a temporary one when empty)")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:7500", "JSON-RPC listen address (POST /rpc)")
	fs.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:7300", "Raft listen address")
	fs.IntVar(&f.kvShards, "kv-shards", 0, fmt.Sprintf("KV shards of a new datacenter (default %d; fixed once created)", shard.DefaultKVShards))
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	if role == "server" {
		fs.StringVar(&f.peers, "peers", "", "every server of the datacenter: NAME=RAFTADDR,... (this one included)")
		fs.StringVar(&f.logDB, "raft-logdb", "small", "Raft LogDB memory preset: tiny (~256 MB), small (~1 GB) or default")
	} else {
		f.logDB = "tiny"
	}
}

// parsePeers reads "s1=127.0.0.1:7300,s2=..." into peers.
func parsePeers(s string) ([]rpc.Peer, error) {
	var out []rpc.Peer
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, addr, ok := strings.Cut(part, "=")
		if !ok || name == "" || addr == "" {
			return nil, fmt.Errorf("-peers: %q is not NAME=HOST:PORT", part)
		}
		out = append(out, rpc.Peer{Node: name, RaftAddr: addr})
	}
	if len(out) == 0 {
		return nil, errors.New("-peers: list every server as NAME=HOST:PORT,... (this one included)")
	}
	return out, nil
}

func runAgent(role string, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f agentFlags
	f.register(fs, role)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meridian %s: unexpected argument %q\n", role, fs.Arg(0))
		return 2
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "meridian %s: %v\n", role, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := agent(ctx, role, f, log); err != nil {
		log.Error("agent failed", "role", role, "err", err)
		return 1
	}
	return 0
}

func agent(ctx context.Context, role string, f agentFlags, log *slog.Logger) error {
	cfg := server.DefaultConfig()
	cfg.Node, cfg.DC, cfg.DataDir, cfg.KVShards = f.node, f.dc, f.dataDir, f.kvShards
	cfg.Raft.LogDBProfile = f.logDB
	cfg.Logger = log.With("component", "server")
	switch role {
	case "dev":
		if cfg.DataDir == "" {
			dir, err := os.MkdirTemp("", "meridian-dev-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg.DataDir = dir
		}
		cfg.Peers = []rpc.Peer{{Node: f.node, RaftAddr: f.raftAddr}}
	case "server":
		if cfg.DataDir == "" {
			return errors.New("-data-dir is required for a server")
		}
		peers, err := parsePeers(f.peers)
		if err != nil {
			return err
		}
		cfg.Peers = peers
	}
	cfg.RaftAddr = f.raftAddr

	started := time.Now()
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	api := rpc.NewServer(rpc.DefaultServerConfig())
	srv.Register(api)

	var ready = make(chan struct{})
	front, err := httpfront.New(httpfront.Config{
		Addr: f.httpAddr, RPC: api, Logger: log.With("component", "http"),
		Ready: func() bool {
			select {
			case <-ready:
				return true
			default:
				return false
			}
		},
	})
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- front.Serve() }()
	log.Info("starting", "role", role, "node", cfg.Node, "dc", cfg.DC, "data_dir", cfg.DataDir,
		"http", "http://"+front.Addr()+"/rpc", "raft", cfg.RaftAddr, "kv_shards", srv.KVShards())

	// Wait for leaders, saying so now and then: a server whose peers are
	// not up yet waits here.
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := srv.WaitReady(wctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			break
		}
		log.Info("waiting for shard leaders (are the other servers up?)", "err", err)
	}
	if ctx.Err() == nil {
		close(ready)
		log.Info("ready", "rpc", "http://"+front.Addr()+"/rpc", "took", time.Since(started).Round(time.Millisecond))
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			return err
		}
	}
	log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if err := front.Shutdown(sctx); err != nil {
		front.Close()
	}
	srv.Close()
	log.Info("stopped")
	return nil
}
