package raftnode

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lni/vfs"

	"meridian/server/kv"
	"meridian/server/shard"
)

// noRoomFS is the operating system's filesystem, except that once full is
// set, creating a table file (a LogDB memtable flush) fails with ENOSPC:
// a fake disk that has room left in the write-ahead log it already holds
// but none for anything new.
type noRoomFS struct {
	vfs.FS
	full atomic.Bool
}

func (f *noRoomFS) Create(name string) (vfs.File, error) {
	if f.full.Load() && strings.HasSuffix(name, ".sst") {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	return f.FS.Create(name)
}

// noInjection injects nothing: dragonboat takes a filesystem other than
// the OS's only inside its error-injecting wrapper, and noRoomFS decides.
type noInjection struct{}

func (noInjection) MaybeError(vfs.Op) error { return nil }

// A follower whose LogDB cannot flush stalls instead of failing: Pebble
// retries the flush and holds every write behind it, and with it the
// step worker. Stuck must see that (the server's disk watchdog stops the
// process on it), while the replica still names its leader and the other
// two go on taking writes.
func TestStuckWhenTheLogDBStalls(t *testing.T) {
	fss := make([]*noRoomFS, 3)
	hosts := startHosts(t, 3, 1, func(cfg *Config) {
		f := &noRoomFS{FS: vfs.Default}
		fss[cfg.ReplicaID-1] = f
		cfg.testFS = vfs.Wrap(f, noInjection{})
	})
	id := shard.KV(0)
	// Leader events reach each host a little after dragonboat acts.
	var leader shard.ReplicaID
	eventually(t, 10*time.Second, "every host to name the same leader", func() bool {
		leader, _ = hosts[0].Contact(id)
		for _, h := range hosts[1:] {
			if l, _ := h.Contact(id); l != leader {
				return false
			}
		}
		return leader != 0
	})
	follower := int(leader) % 3 // the replica after the leader, 0-based
	f := fss[follower]
	f.full.Store(true)
	// Before the hosts close (cleanups run last in, first out): room
	// returns, Pebble's next flush succeeds and the step worker goes on.
	t.Cleanup(func() { f.full.Store(false) })

	value := make([]byte, 256<<10)
	n := 0
	eventually(t, 2*time.Minute, fmt.Sprintf("replica %d stuck for 3 s", follower+1), func() bool {
		if hosts[follower].Stuck() > 3*time.Second {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		key := fmt.Sprintf("stall/k%04d", n)
		if _, err := hosts[leader-1].Propose(ctx, id, (&kv.Command{Op: kv.OpPut, Key: key, Value: value}).Marshal()); err != nil {
			t.Fatalf("put %d through the leader: %v", n, err)
		}
		n++
		return false
	})
	t.Logf("replica %d stuck after %d puts of 256 KiB", follower+1, n)
	if l, _ := hosts[follower].Contact(id); l == 0 {
		t.Error("the stuck replica names no leader: Stuck would take it for a lost quorum")
	}
	if s := hosts[leader-1].Stuck(); s > 3*time.Second {
		t.Errorf("the leader is stuck too (%v)", s)
	}
}
