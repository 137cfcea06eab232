package server

import (
	"context"
	"fmt"
	"net"
	"time"

	"meridian/rpc"
	"meridian/server/shard"
)

// Methods that change which servers hold the shards.
const (
	MethodClusterJoin   = "cluster.join"
	MethodClusterRemove = "cluster.remove"
)

// ClusterJoinParams asks to add a new server to every shard.
type ClusterJoinParams struct {
	Node     string `json:"node"`
	RaftAddr string `json:"raft_addr"`
	rpc.WriteOptions
}

type ClusterJoinResult struct {
	ReplicaID uint64 `json:"replica_id"`
	// KVShards is the datacenter's KV shard count: the new server runs
	// the same shards.
	KVShards int `json:"kv_shards"`
}

// ClusterRemoveParams names a server to remove from every shard, by
// replica ID or Raft address.
type ClusterRemoveParams struct {
	ReplicaID uint64 `json:"replica_id,omitempty"`
	RaftAddr  string `json:"raft_addr,omitempty"`
	rpc.WriteOptions
}

func (s *Server) registerCluster(api *rpc.Server) {
	rpc.Register(api, MethodClusterJoin, "Add a new server to every shard; answers the replica ID it must start with.", s.clusterJoin)
	rpc.Register(api, MethodClusterRemove, "Remove a server from every shard (by replica_id or raft_addr), as `meridian leave` does for itself.", s.clusterRemove)
}

func (s *Server) clusterJoin(ctx context.Context, p *ClusterJoinParams) (*ClusterJoinResult, error) {
	if err := rpc.ValidateName("node", p.Node); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(p.RaftAddr); err != nil {
		return nil, rpc.InvalidParams("field \"raft_addr\": %v", err)
	}
	if err := s.checkDC(p.DC); err != nil {
		return nil, err
	}
	cctx, cancel, err := s.callCtx(ctx, p.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	id, err := s.host.AddServer(cctx, p.RaftAddr)
	if err != nil {
		return nil, err
	}
	s.log.Info("server joined", "node", p.Node, "raft", p.RaftAddr, "replica_id", id)
	return &ClusterJoinResult{ReplicaID: uint64(id), KVShards: s.kvShards}, nil
}

func (s *Server) clusterRemove(ctx context.Context, p *ClusterRemoveParams) (*rpc.OKResult, error) {
	if err := s.checkDC(p.DC); err != nil {
		return nil, err
	}
	id := shard.ReplicaID(p.ReplicaID)
	if id == 0 {
		for rid, addr := range s.host.Members() {
			if addr == p.RaftAddr {
				id = rid
			}
		}
		if id == 0 {
			return nil, rpc.ErrNotFoundf("no server at raft_addr %q", p.RaftAddr)
		}
	}
	cctx, cancel, err := s.callCtx(ctx, p.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := s.host.RemoveServer(cctx, id); err != nil {
		return nil, fmt.Errorf("remove replica %d: %w", id, err)
	}
	s.log.Info("server removed", "replica_id", id)
	return &rpc.OKResult{OK: true}, nil
}

// Leave removes this server from every shard: the first step of a
// graceful `meridian leave`.
func (s *Server) Leave(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	s.host.HandOff(hctx)
	cancel()
	self := s.host.ReplicaID()
	// Another server makes the removal: a replica that proposes its own
	// removal may never learn that it was committed (the leader stops
	// replicating to it), and its call would wait out its deadline.
	if s.cfg.PeerRPCAddr != nil {
		var last error
		for id, raftAddr := range s.host.Members() {
			addr := s.cfg.PeerRPCAddr(raftAddr)
			if id == self || addr == "" {
				continue
			}
			if last = removeVia(ctx, addr, self); last == nil {
				return nil
			}
			s.log.Warn("leave: removal through a peer failed, trying another", "peer", addr, "err", last)
		}
	}
	return s.host.RemoveServer(ctx, self)
}

// removeVia asks the server whose JSON-RPC address is addr to remove
// replica id from every shard.
func removeVia(ctx context.Context, addr string, id shard.ReplicaID) error {
	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{addr}})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(ctx, MethodClusterRemove, ClusterRemoveParams{ReplicaID: uint64(id)}, nil)
}
