package server

import (
	"context"
	"fmt"

	"meridian/rpc"
	"meridian/server/shard"
)

func (s *Server) registerStatus(api *rpc.Server) {
	rpc.Register(api, rpc.MethodStatusLeader, "The Raft address of the system shard's leader (empty when there is none).", s.statusLeader)
	rpc.Register(api, rpc.MethodStatusPeers, "The servers of the datacenter with their replica IDs and Raft addresses.", s.statusPeers)
	rpc.Register(api, rpc.MethodStatusShards, "Every shard as this server sees it: leader, term, applied index, replicas.", s.statusShards)
}

func (s *Server) peer(id shard.ReplicaID) (rpc.Peer, bool) {
	for _, p := range s.cfg.Peers {
		if p.ReplicaID == uint64(id) {
			return p, true
		}
	}
	return rpc.Peer{}, false
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
	return &rpc.StatusPeersResult{Peers: append([]rpc.Peer(nil), s.cfg.Peers...)}, nil
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
		}
		for _, r := range info.Replicas {
			st.Replicas = append(st.Replicas, uint64(r))
		}
		out.Shards = append(out.Shards, st)
	}
	return out, nil
}
