package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"meridian/edge/dns"
	"meridian/edge/gossip"
	"meridian/edge/httpfront"
	"meridian/edge/servers"
	"meridian/rpc"
	"meridian/server"
	"meridian/server/shard"
	"meridian/wasm"
)

// agentFlags are the flags of the agent roles; names as in DESIGN.md.
type agentFlags struct {
	node, dc, dataDir         string
	httpAddr, raftAddr, peers string
	lanAddr, configDir        string
	gossipProfile             string
	join                      []string
	wanAddr                   string   // servers
	joinWAN                   []string // servers
	bootstrapExpect           int
	kvShards                  int
	diskReserveMB             uint64
	logLevel, logDB           string
	dns                       dnsFlags
}

func (f *agentFlags) register(fs *flag.FlagSet, role string) {
	host, _ := os.Hostname()
	fs.StringVar(&f.node, "node", host, "node name, unique in the datacenter")
	fs.StringVar(&f.dc, "dc", "dc1", "datacenter name")
	fs.StringVar(&f.dataDir, "data-dir", "", dataDirHelp[role])
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:7500", "JSON-RPC listen address (POST /rpc)")
	fs.StringVar(&f.lanAddr, "lan-addr", "127.0.0.1:7301", "LAN gossip address (UDP and TCP)")
	fs.Func("join", "address of a LAN gossip member to join (repeatable; retried until it works)", func(v string) error {
		f.join = append(f.join, v)
		return nil
	})
	fs.StringVar(&f.configDir, "config-dir", "", "directory of service definition files (*.json)")
	profile := "lan"
	if role == "dev" {
		profile = "local"
	}
	fs.StringVar(&f.gossipProfile, "gossip-profile", profile, "gossip timings: lan, or local (loopback and tests: fast failure detection; a server's WAN pool then uses local timings too)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.dns.register(fs)
	if role == "edge" {
		return
	}
	fs.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:7300", "Raft listen address")
	fs.Uint64Var(&f.diskReserveMB, "disk-reserve-mb", 64, "refuse writes (reads go on) while the data directory's filesystem has less free space than this, in MiB (at most a 20th of the filesystem; 0: never)")
	fs.IntVar(&f.kvShards, "kv-shards", 0, fmt.Sprintf("KV shards of a new datacenter (default %d; fixed once created)", shard.DefaultKVShards))
	if role == "server" {
		fs.StringVar(&f.peers, "peers", "", "every server of the datacenter: NAME=RAFTADDR,... (this one included); or use -bootstrap-expect with -join")
		fs.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "form a new datacenter once this many servers (this one included) see each other in gossip")
		fs.StringVar(&f.logDB, "raft-logdb", "small", "Raft LogDB memory preset: tiny (~256 MB), small (~1 GB) or default")
		fs.StringVar(&f.wanAddr, "wan-addr", "127.0.0.1:7302", "WAN gossip address of this server (UDP and TCP): the pool of every datacenter's servers")
		fs.Func("join-wan", "address of a WAN gossip member (a server of any datacenter) to join (repeatable; retried, and re-joined every 30 s)", func(v string) error {
			f.joinWAN = append(f.joinWAN, v)
			return nil
		})
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
		name, addr = strings.TrimSpace(name), strings.TrimSpace(addr)
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

// dataDirHelp is -data-dir's help, per role.
var dataDirHelp = map[string]string{
	"dev":    "data directory (empty: a temporary one, removed on exit)",
	"server": "data directory: the Raft log, snapshots and the WASM modules (required)",
	"edge":   "data directory: services registered through the API, and the WASM modules fetched (empty: kept in memory, lost on restart)",
}

// agentRoles says what each role is, for its usage line.
var agentRoles = map[string]string{
	"dev":    "a single-node cluster on loopback, data in a temp dir unless -data-dir",
	"server": "a server of a datacenter: Raft replicas of every shard",
	"edge":   "an edge agent: runs its node's checks, forwards calls to servers",
}

func runAgent(role string, args []string, stderr io.Writer) int {
	fs := newFlagSet(role, stderr, "meridian "+role+" [flags]   ("+agentRoles[role]+")")
	var f agentFlags
	f.register(fs, role)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
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
	if err := f.check(role); err != nil {
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

// check refuses flags that cannot start an agent of role, before anything
// starts: these are usage errors (exit status 2), not failures.
func (f agentFlags) check(role string) error {
	if role != "server" {
		return nil
	}
	if f.dataDir == "" {
		return errors.New("-data-dir is required for a server")
	}
	if f.peers != "" {
		_, err := parsePeers(f.peers)
		return err
	}
	if f.bootstrapExpect < 0 || (f.bootstrapExpect == 0 && len(f.join) == 0 && server.ReadReplicaID(f.dataDir) == 0) {
		return errors.New("a new server needs -peers, or -bootstrap-expect N and -join ADDR, or -join ADDR to join a running datacenter")
	}
	return nil
}

func agent(ctx context.Context, role string, f agentFlags, log *slog.Logger) error {
	if role == "edge" {
		return runEdge(ctx, f, log)
	}
	ctx, leave := context.WithCancelCause(ctx)
	defer leave(nil)
	cfg := server.DefaultConfig()
	cfg.Node, cfg.DC, cfg.DataDir, cfg.KVShards = f.node, f.dc, f.dataDir, f.kvShards
	cfg.Raft.LogDBProfile = f.logDB
	cfg.DiskReserve = f.diskReserveMB << 20
	cfg.Logger = log.With("component", "server")
	cfg.RaftAddr = f.raftAddr
	cfg.UnknownNodeGrace = 2 * gossip.Config{Profile: f.gossipProfile}.PushPullInterval()
	// The server has logged why. Its Raft work is blocked, so a graceful
	// stop would wait for ever: exit as dragonboat's own panic on a full
	// disk does, and the others see a failed server.
	cfg.Fatal = func(error) { os.Exit(2) }
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
		// runAgent has checked the flags (check): -peers parses.
		if f.peers != "" {
			peers, err := parsePeers(f.peers)
			if err != nil {
				return err
			}
			cfg.Peers = peers
		}
	}

	started := time.Now()
	// The front answers from the start (readiness, agent calls), while a
	// new server may still be forming: until the server's methods are
	// registered, calls to them are told to retry.
	var registered atomic.Bool
	fed := server.NewFederation(f.dc, log.With("component", "federation"))
	defer fed.Close()
	rc := rpc.DefaultServerConfig()
	rc.DC, rc.RemoteDC = f.dc, fed.Forward
	var api *rpc.Server
	rc.Forward = func(ctx context.Context, req []byte) ([]byte, error) {
		if !registered.Load() {
			return nil, fmt.Errorf("%w: the server is starting (forming or joining its datacenter)", rpc.ErrUnavailable)
		}
		if ctx.Value(redispatched{}) == nil {
			// The call was looked up before the server's methods were
			// registered and reached here after: serve it now, once.
			return api.Handle(context.WithValue(ctx, redispatched{}, true), req), nil
		}
		var env struct {
			Method string `json:"method"`
		}
		json.Unmarshal(req, &env)
		return nil, fmt.Errorf("%w: %q", rpc.ErrMethodNotFound, env.Method)
	}
	api = rpc.NewServer(rc)
	var ready = make(chan struct{})
	var uploads atomic.Pointer[http.Handler]
	front, err := httpfront.New(httpfront.Config{
		Addr: f.httpAddr, RPC: api, Logger: log.With("component", "http"),
		Modules: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := uploads.Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("%w: the server is starting (forming or joining its datacenter)", rpc.ErrUnavailable)))
		}),
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
	defer front.Close()
	serveErr := make(chan error, 1)
	go func() { serveErr <- front.Serve() }()
	// The server is also its node's agent: its checks and catalog writes
	// go to the API in this process.
	meta := gossip.Meta{Role: gossip.RoleServer, RaftAddr: cfg.RaftAddr, RPCAddr: front.Addr(), Expect: f.bootstrapExpect}
	node, err := startNode(ctx, f, role, meta, api, log)
	if err != nil {
		return err
	}
	defer node.close()
	node.agent.Register(api)
	fed.Register(api)
	var dnsLive atomic.Pointer[dns.Server]
	registerMetrics(api, &dnsLive)
	node.servers = func() []string { return node.lan.servers() }
	cfg.PeerName, cfg.PeerRPCAddr = node.lan.serverName, node.lan.serverRPC
	log.Info("starting", "role", role, "node", cfg.Node, "dc", cfg.DC, "data_dir", cfg.DataDir,
		"http", "http://"+front.Addr()+"/rpc", "raft", cfg.RaftAddr, "lan", node.lan.pool.Addr())

	if role == "server" && len(cfg.Peers) == 0 && server.ReadReplicaID(cfg.DataDir) == 0 {
		peers, joined, err := form(ctx, node.lan, f, log)
		if err != nil {
			return err
		}
		cfg.Peers, cfg.ReplicaID = peers, joined.ReplicaID
		if joined.KVShards != 0 {
			if f.kvShards != 0 && f.kvShards != joined.KVShards {
				return fmt.Errorf("-kv-shards %d: the datacenter has %d KV shards", f.kvShards, joined.KVShards)
			}
			cfg.KVShards = joined.KVShards
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.Register(api)
	up := fed.ModuleUpload(srv.ModuleUploadHandler(), int64(cfg.MaxModuleBytes)) // ?dc= goes to that datacenter
	uploads.Store(&up)
	registered.Store(true)
	rpc.Register(api, "agent.leave", "Leave the datacenter gracefully: a server first removes itself from every shard; then the agent leaves gossip and stops.",
		func(ctx context.Context, _ *struct{}) (*rpc.OKResult, error) {
			if role == "server" {
				if err := srv.Leave(ctx); err != nil {
					return nil, err
				}
			}
			leave(errLeave)
			return &rpc.OKResult{OK: true}, nil
		})

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
	// DNS answers from this server's own replica (stale reads in
	// process), so it starts once the shards have leaders.
	var dnsSrv *dns.Server
	if ctx.Err() == nil {
		if dnsSrv, err = startDNS(f.dns, f.dc, api, log); err != nil {
			return err
		}
		if dnsSrv != nil {
			defer dnsSrv.Close()
			dnsLive.Store(dnsSrv)
		}
		close(ready)
		node.lan.setReady(ctx)
		if role == "server" {
			// The WAN pool only once the shards run: other datacenters
			// forward to the servers they see there.
			w, err := startWAN(f, front.Addr(), fed, log)
			if err != nil {
				return fmt.Errorf("WAN gossip: %w", err)
			}
			defer w.pool.Close()
			node.wan.Store(w)
		}
		log.Info("ready", "rpc", "http://"+front.Addr()+"/rpc", "dns", f.dns.addr, "took", time.Since(started).Round(time.Millisecond))
	}
	node.run(ctx, func(ctx context.Context) {
		if w := node.wan.Load(); w != nil {
			w.sync() // fresh round trips for dc.list
		}
		// Gossip feeds the catalog's node checks; only the system
		// shard's leader writes.
		if err := srv.Reconcile(ctx, node.lan.serverMembers()); err != nil && ctx.Err() == nil {
			log.Warn("reconciling gossip members with the catalog; retrying on the next change or in 10 s", "err", err)
		}
	})

	if err := untilStop(ctx, serveErr); err != nil {
		return err
	}
	log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if context.Cause(ctx) == errLeave {
		// Only a leave tells the others this node is gone for good; a
		// server stopped for a restart stays a member, as Consul's do.
		if w := node.wan.Load(); w != nil {
			if err := w.pool.Leave(2 * time.Second); err != nil {
				log.Warn("leaving the WAN pool", "err", err)
			}
		}
		node.leave()
	}
	stopDNS(sctx, dnsSrv)
	srv.Shutdown(sctx)
	if err := front.Shutdown(sctx); err != nil {
		front.Close()
	}
	node.close()
	srv.Close()
	log.Info("stopped")
	return nil
}

// redispatched marks a call served again once the server's methods are
// registered (see agent's rc.Forward).
type redispatched struct{}

// untilStop waits until ctx ends (a signal, a leave) or the HTTP front
// fails.
func untilStop(ctx context.Context, serveErr <-chan error) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-serveErr:
		return err
	}
}

// errLeave is the cause of a stop asked for by agent.leave.
var errLeave = errors.New("left the datacenter")

// form finds this new server's place from gossip: it joins a running
// datacenter through a ready server, or, with -bootstrap-expect N, forms
// a new one once N servers expecting N see each other (the first N by
// name, so that every server computes the same members).
func form(ctx context.Context, l *lan, f agentFlags, log *slog.Logger) ([]rpc.Peer, server.ClusterJoinResult, error) {
	var none server.ClusterJoinResult
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastSay := time.Now()
	for {
		ready, candidates := l.formation(f.bootstrapExpect)
		if len(ready) > 0 {
			res, err := joinCluster(ctx, ready, f)
			if err == nil {
				log.Info("joined a running datacenter", "replica_id", res.ReplicaID, "kv_shards", res.KVShards, "via", ready)
				return nil, res, nil
			}
			if ctx.Err() != nil {
				return nil, none, ctx.Err()
			}
			log.Warn("joining the datacenter failed; will retry", "err", err)
		} else if f.bootstrapExpect > 0 && len(candidates) >= f.bootstrapExpect {
			first := candidates[:f.bootstrapExpect]
			for _, p := range first {
				if p.Node == f.node {
					log.Info("forming a new datacenter", "servers", first)
					return first, none, nil
				}
			}
		}
		if time.Since(lastSay) > 5*time.Second {
			lastSay = time.Now()
			log.Info("waiting for servers in gossip", "bootstrap_expect", f.bootstrapExpect, "seen", len(candidates))
		}
		select {
		case <-ctx.Done():
			return nil, none, ctx.Err()
		case <-l.changed:
		case <-tick.C:
		}
	}
}

func joinCluster(ctx context.Context, addrs []string, f agentFlags) (server.ClusterJoinResult, error) {
	var res server.ClusterJoinResult
	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: addrs})
	if err != nil {
		return res, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = c.CallRetry(cctx, server.MethodClusterJoin, server.ClusterJoinParams{Node: f.node, RaftAddr: f.raftAddr,
		WriteOptions: rpc.WriteOptions{Timeout: rpc.Duration(30 * time.Second)}}, &res)
	return res, err
}

// runEdge runs an edge agent: no Raft, its node's checks, and every other
// call forwarded to a live server learnt from gossip.
func runEdge(ctx context.Context, f agentFlags, log *slog.Logger) error {
	set := servers.New()
	defer set.Close()
	rc := rpc.DefaultServerConfig()
	rc.Forward, rc.ForwardDiscover = set.Forward, true
	api := rpc.NewServer(rc)
	front, err := httpfront.New(httpfront.Config{
		Addr: f.httpAddr, RPC: api, Logger: log.With("component", "http"),
		Ready:   func() bool { return len(set.Addrs()) > 0 },
		Modules: set.ModuleUpload(wasm.DefaultMaxModuleBytes),
	})
	if err != nil {
		return err
	}
	defer front.Close()
	node, err := startNode(ctx, f, "edge", gossip.Meta{Role: gossip.RoleEdge, RPCAddr: front.Addr()}, set, log)
	if err != nil {
		return err
	}
	defer node.close()
	node.agent.Register(api)
	node.servers = set.Addrs
	dnsSrv, err := startDNS(f.dns, f.dc, set, log)
	if err != nil {
		return err
	}
	var dnsLive atomic.Pointer[dns.Server]
	registerMetrics(api, &dnsLive)
	if dnsSrv != nil {
		defer dnsSrv.Close()
		dnsLive.Store(dnsSrv)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- front.Serve() }()
	log.Info("starting", "role", "edge", "node", f.node, "dc", f.dc,
		"http", "http://"+front.Addr()+"/rpc", "lan", node.lan.pool.Addr(), "join", f.join)
	node.run(ctx, func(context.Context) {
		before := len(set.Addrs())
		if err := set.Update(node.lan.servers()); err != nil {
			log.Warn("server list", "err", err)
		}
		if n := len(set.Addrs()); n != before {
			log.Info("servers", "live", n)
		}
	})
	if err := untilStop(ctx, serveErr); err != nil {
		return err
	}
	log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node.leave()
	stopDNS(sctx, dnsSrv)
	if err := front.Shutdown(sctx); err != nil {
		front.Close()
	}
	node.close()
	log.Info("stopped")
	return nil
}
