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

// stallLimit is how long the Raft log may make no progress, with the disk
// below its reserve, before watchStall gives up on the server.
const stallLimit = 10 * time.Second

// watchStall stops the server when its disk is full and its Raft work has
// stopped. A follower's disk can fill with entries replicated from the
// leader. Usually the LogDB's next write-ahead log write then fails and
// dragonboat panics. But when a memtable flush is what finds no room
// first, Pebble retries the flush forever and stalls every write behind
// it: the server would hang, dropping Raft messages, its linearizable
// reads timing out, with nothing said. Stopping, as the panic does, makes
// it visible and lets the others carry on; it catches up when restarted
// with space.
func (s *Server) watchStall(g *diskGuard, host *raftnode.Host) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := stalled(g, host.Stuck()); err != nil {
			s.log.Error("stopping: disk full", "err", err)
			if s.cfg.Fatal != nil {
				s.cfg.Fatal(err)
			}
			return
		}
	}
}

// stalled says why the server must stop, or nil: the disk is below its
// reserve and no shard has made progress for stallLimit (stuck, from
// raftnode.Host.Stuck).
func stalled(g *diskGuard, stuck time.Duration) error {
	if stuck < stallLimit || g.check() == nil {
		return nil
	}
	g.mu.Lock()
	free := g.free
	g.mu.Unlock()
	return fmt.Errorf("the Raft log cannot be written: no space left on device (%d KiB free on the filesystem of %s) and no shard has made progress for %v; this server stops, the others carry on: free space and start it again, and it catches up",
		free>>10, g.dir, stuck.Round(time.Second))
}
