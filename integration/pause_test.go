package integration

import (
	"context"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/shard"
)

// TestPausedLeader freezes the leader of a shard with SIGSTOP, as a hung
// machine would be (its connections stay open, nothing answers): the other
// two elect a new leader and take writes; once resumed, the old leader
// steps down and catches up.
func TestPausedLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: pauses a leader")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	ctx := within(t, 60*time.Second)
	const key = "pause/key"
	id := shard.ForKey(key, c.KVShards())
	leader, err := c.Leader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	via := (leader + 1) % c.N()
	if _, err := putIdempotent(ctx, c.Client(via), key, "before"); err != nil {
		t.Fatal(err)
	}

	c.Pause(leader)
	paused := time.Now()
	res, err := putIdempotent(within(t, 20*time.Second), c.Client(via), key, "during")
	if err != nil {
		t.Fatalf("write through %s with the leader %s paused: %v", c.Node(via), c.Node(leader), err)
	}
	t.Logf("a write through %s was acknowledged %v after %s was paused", c.Node(via), time.Since(paused).Round(time.Millisecond), c.Node(leader))
	newLeader, err := c.Leader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == leader {
		t.Fatalf("%s still leads %v while paused", c.Node(leader), id)
	}

	c.Resume(leader)
	err = cluster.Eventually(ctx, c.Node(leader)+" serves the write made while it was paused", func(ctx context.Context) error {
		// A stale read answers at once from any live server: bound each
		// try, so that a hung server shows as such.
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, err := c.Client(leader).KVGet(ctx, &rpc.KVGetParams{Key: key, ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}})
		if err != nil {
			return err
		}
		return sameValue(got.Entry, key, "during", res.Index)
	})
	if err != nil {
		t.Fatalf("%v\n%s was in state %q; its stacks are in the log above", err, c.Node(leader), c.Dump(leader))
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var got *rpc.KVGetResult
	err = retryRead(t, ctx, "linearizable get through the resumed "+c.Node(leader), func(ctx context.Context) (err error) {
		got, err = c.Client(leader).KVGet(ctx, &rpc.KVGetParams{Key: key})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameValue(got.Entry, key, "during", res.Index); err != nil {
		t.Errorf("linearizable read through the resumed %s: %v", c.Node(leader), err)
	}
}
