// Package raftnode runs a server's Raft replicas on one dragonboat NodeHost:
// the system shard and every KV shard, each an IConcurrentStateMachine over
// the pure state machines it is given (see Machine).
//
// It is the only package that imports dragonboat. The server reaches it
// through a small interface of its own (propose, linearizable read, stale
// read, shard info), so handlers and state machines stay free of Raft.
//
//	h, err := raftnode.New(raftnode.Config{DataDir: dir, RaftAddr: "127.0.0.1:7300",
//		ReplicaID: 1, Peers: map[shard.ReplicaID]string{1: "127.0.0.1:7300"},
//		Shards: shard.All(4)})
//	defer h.Close()
//	res, err := h.Propose(ctx, shard.KV(0), cmd.Marshal())
//	view, err := h.Read(ctx, shard.KV(0)) // linearizable
package raftnode
