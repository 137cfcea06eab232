package server

import (
	"context"
	"time"

	"meridian/server/raftnode"
	"meridian/server/shard"
)

// Raft is what the handlers need of the replication layer. raftnode.Host
// implements it over dragonboat.
type Raft interface {
	// Propose replicates cmd through the shard's log and returns the state
	// machine's result.
	Propose(ctx context.Context, id shard.ID, cmd []byte) (raftnode.Result, error)
	// Read returns a linearizable view of the shard (Raft ReadIndex).
	// The view's type is the shard's machine's: *kv.View or *catalog.View.
	Read(ctx context.Context, id shard.ID) (any, error)
	// StaleRead returns the local replica's view at once.
	StaleRead(id shard.ID) (any, error)
	// Info tells leader, term, members and applied index.
	Info(id shard.ID) (shard.Info, error)
	// Contact is the cheap part of Info for every stale read: the known
	// leader (0 if none) and how long since it confirmed this replica.
	Contact(id shard.ID) (leader shard.ReplicaID, since time.Duration)
}

var _ Raft = (*raftnode.Host)(nil)
