package server

import (
	"context"
	"fmt"
	"sort"

	"meridian/rpc"
	"meridian/server/shard"
)

func (s *Server) registerStatus(api *rpc.Server) {
	rpc.Register(api, rpc.MethodStatusLeader, "The Raft address of the system shard's leader (empty when there is none).", s.statusLeader)
	rpc.Register(api, rpc.MethodStatusPeers, "The servers of the datacenter with their replica IDs and Raft addresses.", s.statusPeers)
	rpc.Register(api, rpc.MethodStatusShards, "Every shard as this server sees it: leader, term, applied index, replicas.", s.statusShards)
}

func (s *Server) peer(id shard.ReplicaID) (rpc.Peer, bool) {
	addr, ok := s.host.Members()[id]
	if !ok {
		return rpc.Peer{}, false
	}
	return rpc.Peer{Node: s.peerName(id, addr), ReplicaID: uint64(id), RaftAddr: addr}, true
}

func (s *Server) statusLeader(_ context.Context, p *rpc.EmptyParams) (*rpc.StatusLeaderResult, error) {
	if err := s.checkDC(p.DC); err != nil {
		return nil, err
	}
	info, err := s.raft.Info(shard.System)
	if err != nil {
		return nil, err
	}
	out := &rpc.StatusLeaderResult{}
	if pr, ok := s.peer(info.Leader); ok && info.Leader != 0 {
		out.Leader, out.Node = pr.RaftAddr, pr.Node
	}
	return out, nil
}

func (s *Server) statusPeers(_ context.Context, p *rpc.EmptyParams) (*rpc.StatusPeersResult, error) {
	if err := s.checkDC(p.DC); err != nil {
		return nil, err
	}
	return &rpc.StatusPeersResult{Peers: s.peers()}, nil
}

// peers lists the servers of the datacenter from the system shard's
// membership, named by PeerName or the static peers.
func (s *Server) peers() []rpc.Peer {
	members := s.host.Members()
	out := make([]rpc.Peer, 0, len(members))
	for id, addr := range members {
		out = append(out, rpc.Peer{Node: s.peerName(id, addr), ReplicaID: uint64(id), RaftAddr: addr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ReplicaID < out[j].ReplicaID })
	return out
}

func (s *Server) peerName(id shard.ReplicaID, addr string) string {
	if id == s.host.ReplicaID() {
		return s.cfg.Node
	}
	if s.cfg.PeerName != nil {
		if n := s.cfg.PeerName(addr); n != "" {
			return n
		}
	}
	for _, p := range s.cfg.Peers {
		if p.ReplicaID == uint64(id) {
			return p.Node
		}
	}
	return ""
}

func (s *Server) statusShards(_ context.Context, p *rpc.EmptyParams) (*rpc.StatusShardsResult, error) {
	if err := s.checkDC(p.DC); err != nil {
		return nil, err
	}
	out := &rpc.StatusShardsResult{Node: s.cfg.Node}
	for _, id := range shard.All(s.kvShards) {
		info, err := s.raft.Info(id)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", id, err)
		}
		st := rpc.ShardStatus{ID: uint64(id), Kind: id.Kind(), Leader: uint64(info.Leader), Term: info.Term, AppliedIndex: info.Applied}
		if pr, ok := s.peer(info.Leader); ok {
			st.LeaderNode = pr.Node
			if s.cfg.PeerRPCAddr != nil {
				st.LeaderRPCAddr = s.cfg.PeerRPCAddr(pr.RaftAddr)
			}
		}
		for _, r := range info.Replicas {
			st.Replicas = append(st.Replicas, uint64(r))
		}
		out.Shards = append(out.Shards, st)
	}
	return out, nil
}
