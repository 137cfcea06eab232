package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"meridian/rpc"
	"meridian/server/raftnode"
	"meridian/server/shard"
)

// diskGuard refuses proposals while the data directory's filesystem has
// less free space than a reserve. The Raft log cannot take a write error:
// dragonboat's LogDB panics when a write finds the disk full, taking the
// server down. Refusing new writes a little before that keeps the server
// up, its reads working, and its writes back as soon as space returns.
// Entries replicated from a leader are not proposals and still arrive: a
// follower whose disk alone fills still stops, and its peers carry on.
type diskGuard struct {
	Raft
	dir     string
	reserve uint64 // bytes; 0: no guard

	mu      sync.Mutex
	checked time.Time
	free    uint64
	size    uint64
	err     error
}

// diskCheckEvery bounds how stale the free-space figure may be: a statfs
// per proposal would cost a syscall each.
const diskCheckEvery = 250 * time.Millisecond

// maxReserveShare caps the reserve at a 20th of the filesystem, so a small
// disk is not refused from the start.
const maxReserveShare = 20

func newDiskGuard(r Raft, dir string, reserve uint64) Raft {
	if reserve == 0 {
		return r
	}
	return &diskGuard{Raft: r, dir: dir, reserve: reserve}
}

// Propose refuses cmd when the disk is nearly full, else proposes it.
func (g *diskGuard) Propose(ctx context.Context, id shard.ID, cmd []byte) (raftnode.Result, error) {
	if err := g.check(); err != nil {
		return raftnode.Result{}, err
	}
	return g.Raft.Propose(ctx, id, cmd)
}

func (g *diskGuard) check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.checked) >= diskCheckEvery {
		g.checked = now
		free, size, err := diskSpace(g.dir)
		if err != nil {
			g.err = nil // cannot tell: let the write try
			return nil
		}
		g.free, g.size = free, size
		reserve := min(g.reserve, g.size/maxReserveShare)
		g.err = nil
		if g.free < reserve {
			g.err = fmt.Errorf("%w: disk full: %d MiB free on the filesystem of %s, below the %d MiB kept for the Raft log; writes are refused until space is freed (reads keep working)",
				rpc.ErrUnavailable, g.free>>20, g.dir, reserve>>20)
		}
	}
	return g.err
}
