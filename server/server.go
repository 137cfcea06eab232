package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"meridian/rpc"
	"meridian/server/raftnode"
	"meridian/server/shard"
	"meridian/wasm"
)

// Config of a Server. Start from DefaultConfig.
type Config struct {
	Node    string
	DC      string
	DataDir string
	// KVShards is the number of KV shards; 0 takes what the data directory
	// records, or shard.DefaultKVShards for a new one. A different count
	// than recorded is refused.
	KVShards int
	// RaftAddr is this server's Raft address; Peers lists every server of
	// the datacenter (this one included) by node name. Replica IDs are
	// assigned by sorted node name, so every server computes the same.
	RaftAddr string
	Peers    []rpc.Peer
	// Without Peers, the server is one a running cluster added (see
	// cluster.join): ReplicaID is the ID it was given (0: the one its data
	// directory records) and its replicas join the shards.
	ReplicaID uint64
	// PeerName names the server at a Raft address (from gossip), for
	// status answers; nil uses Peers.
	PeerName func(raftAddr string) string
	// PeerRPCAddr gives the JSON-RPC address of the server at a Raft
	// address (from gossip), so that status.shards can tell clients where
	// each shard's leader answers; nil leaves it out.
	PeerRPCAddr func(raftAddr string) string
	// Raft holds the Raft timings and LogDB profile; its identity fields
	// are filled in by New.
	Raft raftnode.Config

	MaxValueBytes int
	// MaxModuleBytes caps a WASM check module (default 8 MiB).
	MaxModuleBytes int
	// DiskReserve: writes are refused (reads go on) while the data
	// directory's filesystem has less free space than this (default
	// 64 MiB, at most a 20th of the filesystem; 0 turns the guard off).
	DiskReserve    uint64
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	DefaultWait    time.Duration
	MaxWait        time.Duration
	// UnknownNodeGrace is how long a node with a passing gossip check may
	// stay unknown to this server's gossip pool before Reconcile sets the
	// check critical. A member's join can miss a server (it died before
	// its alive message reached it), and memberlist then ignores its
	// death too; the grace, longer than a push/pull interval, lets a live
	// member's state arrive first.
	UnknownNodeGrace time.Duration
	// Fatal is called, once, when the server cannot go on: its data
	// directory's disk is full and its Raft log has stopped (see
	// watchStall). The process should exit; the other servers carry on.
	// Nil only logs the error.
	Fatal func(error)

	Logger *slog.Logger
}

// DefaultConfig returns Consul's limits: 512 KiB values, blocking waits of
// 5 minutes by default and 10 at most; calls time out after 10 s unless
// they ask otherwise (60 s at most).
func DefaultConfig() Config {
	return Config{
		DC:             "dc1",
		Raft:           raftnode.DefaultConfig(),
		MaxValueBytes:  512 << 10,
		MaxModuleBytes: wasm.DefaultMaxModuleBytes,
		DiskReserve:    64 << 20,
		DefaultTimeout: 10 * time.Second,
		MaxTimeout:     60 * time.Second,
		DefaultWait:    rpc.DefaultWait,
		MaxWait:        rpc.MaxWait,
		// Two of memberlist's LAN push/pull intervals (30 s).
		UnknownNodeGrace: time.Minute,
	}
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("server: a node name is required")
	case c.DC == "":
		return errors.New("server: a datacenter name is required")
	case c.DataDir == "":
		return errors.New("server: a data directory is required")
	case c.KVShards < 0 || c.KVShards > shard.MaxKVShards:
		return fmt.Errorf("server: KV shards %d: want 1-%d", c.KVShards, shard.MaxKVShards)
	case c.MaxValueBytes <= 0:
		return errors.New("server: MaxValueBytes must be positive")
	case c.MaxModuleBytes <= 0:
		return errors.New("server: MaxModuleBytes must be positive")
	case c.DefaultTimeout <= 0 || c.MaxTimeout < c.DefaultTimeout:
		return errors.New("server: want 0 < DefaultTimeout <= MaxTimeout")
	case c.DefaultWait <= 0 || c.MaxWait < c.DefaultWait:
		return errors.New("server: want 0 < DefaultWait <= MaxWait")
	case c.UnknownNodeGrace < 0:
		return errors.New("server: UnknownNodeGrace must not be negative")
	}
	if len(c.Peers) == 0 {
		if c.RaftAddr == "" {
			return errors.New("server: a Raft address is required")
		}
		if c.ReplicaID == 0 && ReadReplicaID(c.DataDir) == 0 {
			return errors.New("server: no peers and no replica ID: give -peers, or join a running cluster")
		}
		return nil
	}
	if _, err := AssignReplicaIDs(c.Peers); err != nil {
		return err
	}
	return nil
}

// AssignReplicaIDs numbers peers 1..n by sorted node name.
func AssignReplicaIDs(peers []rpc.Peer) ([]rpc.Peer, error) {
	out := append([]rpc.Peer(nil), peers...)
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	seen := map[string]bool{}
	for i := range out {
		if out[i].Node == "" || out[i].RaftAddr == "" {
			return nil, fmt.Errorf("server: peer %d needs a node name and a Raft address (NAME=HOST:PORT)", i+1)
		}
		if seen[out[i].Node] {
			return nil, fmt.Errorf("server: peer %q is listed twice", out[i].Node)
		}
		seen[out[i].Node] = true
		out[i].ReplicaID = uint64(i + 1)
	}
	return out, nil
}

// Server holds this server's shard replicas and serves the API over them.
type Server struct {
	cfg       Config
	log       *slog.Logger
	raft      Raft
	host      *raftnode.Host
	kvShards  int
	self      rpc.Peer
	validator validator

	// unknown tracks, on the system shard's leader, since when each
	// catalog node with a live gossip check has been unknown to gossip
	// (see Reconcile); now is the clock it is read with.
	unknownMu sync.Mutex
	unknown   map[string]time.Time
	now       func() time.Time

	stop      chan struct{}
	stopOnce  sync.Once
	closeOnce sync.Once
}

// New starts the server's replicas. It returns before the shards have
// leaders; see WaitReady.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var peers []rpc.Peer
	self := rpc.Peer{Node: cfg.Node, RaftAddr: cfg.RaftAddr, ReplicaID: cfg.ReplicaID}
	join := false
	if len(cfg.Peers) > 0 {
		peers, _ = AssignReplicaIDs(cfg.Peers)
		cfg.Peers = peers
		self = rpc.Peer{}
		for _, p := range peers {
			if p.Node == cfg.Node {
				self = p
			}
		}
		if self.ReplicaID == 0 {
			return nil, fmt.Errorf("server: node %q is not among the peers; list every server, this one included", cfg.Node)
		}
		if cfg.RaftAddr != "" && cfg.RaftAddr != self.RaftAddr {
			return nil, fmt.Errorf("server: node %q has Raft address %s but the peers list says %s", cfg.Node, cfg.RaftAddr, self.RaftAddr)
		}
	} else {
		join = true
	}
	meta, err := loadMeta(cfg.DataDir, cfg.DC, cfg.Node, cfg.KVShards)
	if err != nil {
		return nil, err
	}
	switch {
	case self.ReplicaID == 0:
		self.ReplicaID = meta.ReplicaID
	case meta.ReplicaID != 0 && meta.ReplicaID != self.ReplicaID && len(cfg.Peers) == 0:
		return nil, fmt.Errorf("%w: %s holds replica %d, not %d", ErrDataDirMismatch, cfg.DataDir, meta.ReplicaID, self.ReplicaID)
	}
	if meta.ReplicaID == 0 {
		meta.ReplicaID = self.ReplicaID
		if err := saveMeta(cfg.DataDir, meta); err != nil {
			return nil, err
		}
	}
	rc := cfg.Raft
	rc.DataDir = cfg.DataDir
	rc.RaftAddr = self.RaftAddr
	rc.ReplicaID = shard.ReplicaID(self.ReplicaID)
	rc.Peers = make(map[shard.ReplicaID]string, len(peers))
	for _, p := range peers {
		rc.Peers[shard.ReplicaID(p.ReplicaID)] = p.RaftAddr
	}
	rc.Join = join
	rc.Shards = shard.All(meta.KVShards)
	rc.Machine = newMachine
	rc.Logger = cfg.Logger.With("layer", "raft") // under the caller's component
	host, err := openRaft(cfg.DataDir, rc)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		raft:     newDiskGuard(host, cfg.DataDir, cfg.DiskReserve),
		host:     host,
		kvShards: meta.KVShards,
		self:     self,
		now:      time.Now,
		stop:     make(chan struct{}),
	}
	if g, ok := s.raft.(*diskGuard); ok {
		go s.watchStall(g, host)
	}
	return s, nil
}

// KVShards is the datacenter's number of KV shards.
func (s *Server) KVShards() int { return s.kvShards }

// WaitReady blocks until every shard has a leader.
func (s *Server) WaitReady(ctx context.Context) error { return s.host.WaitReady(ctx) }

// Shutdown is the first step of a graceful stop: it releases blocked
// readers (they answer with what they have) so that the HTTP front can
// drain; Close then stops the replicas. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	return ctx.Err()
}

// Close stops the server at once: releases readers and stops the replicas.
// Safe to call twice.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.closeOnce.Do(func() {
		s.host.Close()
		s.closeValidator()
	})
}

// Register adds the server's methods to api.
func (s *Server) Register(api *rpc.Server) {
	s.registerKV(api)
	s.registerStatus(api)
	s.registerCatalog(api)
	s.registerCluster(api)
	s.registerModules(api)
}

// callCtx bounds one Raft operation by the call's timeout.
func (s *Server) callCtx(ctx context.Context, timeout rpc.Duration) (context.Context, context.CancelFunc, error) {
	d := timeout.Std()
	if d == 0 {
		d = s.cfg.DefaultTimeout
	}
	if d > s.cfg.MaxTimeout {
		return nil, nil, rpc.InvalidParams("field \"timeout\": %s is over the maximum of %s", d, s.cfg.MaxTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

// checkDC refuses a call for another datacenter that reached a method
// here: calls arriving over HTTP leave for their datacenter before
// (Federation, rpc.ServerConfig.RemoteDC); this catches in-process calls
// and servers run without a WAN pool.
func (s *Server) checkDC(dc string) error {
	if dc != "" && dc != s.cfg.DC {
		return fmt.Errorf("%w: %q (this server is in %q and does not forward to other datacenters here)", rpc.ErrUnknownDC, dc, s.cfg.DC)
	}
	return nil
}
