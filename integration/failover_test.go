package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/shard"
)

// Bounds a failover must stay within. The requirement is tighter (a write
// resumes within about a second, no request waits more than 2 s for a gone
// leader); these are loose because CI machines are noisy: they catch a
// write path that hangs until the server's 10 s timeout, not a slow run.
const (
	maxToFirstWrite = 10 * time.Second
	maxRequest      = 8 * time.Second
	requirement     = 2 * time.Second // logged against, not asserted
)

// killLeaderUnderLoad SIGKILLs the leader of shard id while l writes to it,
// waits for a write sent after the kill to be acknowledged and for every
// request in flight at the kill to end, and returns the killed server and
// what the clients saw.
func killLeaderUnderLoad(t *testing.T, c *cluster.Cluster, l *writeLoad, id shard.ID) (int, failoverStats) {
	t.Helper()
	ctx := within(t, 60*time.Second)
	leader, err := c.Leader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	base := l.ackCount()
	if err := cluster.Eventually(within(t, 20*time.Second), "100 writes acknowledged before the kill", func(context.Context) error {
		if n := l.ackCount() - base; n < 100 {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	kill := time.Now()
	c.Kill(leader)
	t.Logf("killed %s, the leader of %v, at %s", c.Node(leader), id, kill.Format("15:04:05.000"))

	if err := cluster.Eventually(within(t, maxToFirstWrite+5*time.Second), "a write sent after the kill to be acknowledged", func(context.Context) error {
		if _, ok := l.firstAckAfter(kill); !ok {
			return fmt.Errorf("none yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.summary())
	}
	first, _ := l.firstAckAfter(kill)
	if err := cluster.Eventually(within(t, 20*time.Second), "every request in flight at the first write after the kill to end", func(context.Context) error {
		return l.allWritersPast(first.end)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.summary())
	}
	return leader, l.statsSince(kill)
}

// assertFailover checks the figures against the loose bounds and logs them
// against the requirement.
func assertFailover(t *testing.T, s failoverStats) {
	t.Helper()
	t.Logf("failover: %v", s)
	if s.ToFirstWrite > maxToFirstWrite {
		t.Errorf("the first write after the kill was acknowledged %v after it, want at most %v", s.ToFirstWrite, maxToFirstWrite)
	}
	if s.Longest > maxRequest {
		t.Errorf("a request took %v after the kill (%+v), want at most %v (requirement: %v)", s.Longest, s.LongestAttempt, maxRequest, requirement)
	} else if s.Longest > requirement {
		t.Logf("NOTE: a request took %v after the kill, over the %v requirement (within the loose bound %v)", s.Longest, requirement, maxRequest)
	}
}

// TestKillLeaderUnderLoad SIGKILLs the leader of the KV shard that 16
// writers are writing to. Writes resume on a new leader; every write a
// client was told succeeded is on both survivors and, after a restart, on
// the killed server; nothing a server said it did not apply is anywhere.
func TestKillLeaderUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: kills a leader under load")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	const prefix = "load/w"
	id := shard.ForKey(prefix, c.KVShards())
	l := startLoad(t, c, prefix, 16)

	killed, stats := killLeaderUnderLoad(t, c, l, id)
	l.stopLoad()
	t.Logf("load: %s", l.summary())
	assertFailover(t, stats)
	for _, a := range l.failures() {
		t.Errorf("a write failed with an error no client can retry: server %d, key %s, after %v: %v", a.server, a.key, a.took(), a.err)
	}

	ctx := within(t, 90*time.Second)
	var held map[string]string
	for i := range c.N() {
		if i == killed {
			continue
		}
		got, _, err := list(ctx, c.Client(i), "load/", rpc.ConsistencyDefault)
		if err != nil {
			t.Fatalf("%s: list: %v", c.Node(i), err)
		}
		if err := l.check(got); err != nil {
			t.Errorf("survivor %s: %v", c.Node(i), err)
		}
		if held != nil {
			if d := diff(got, held); d != "" {
				t.Errorf("the survivors differ: %s", d)
			}
		}
		held = got
	}
	t.Logf("%d keys held by the survivors, %d acknowledged", len(held), len(l.ackedKeys()))

	c.Restart(killed)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The restarted server catches up: its own replica (a stale read) ends
	// up with exactly what the survivors hold.
	began := time.Now()
	err := cluster.Eventually(ctx, c.Node(killed)+" holds what the survivors hold", func(ctx context.Context) error {
		got, _, err := list(ctx, c.Client(killed), "load/", rpc.ConsistencyStale)
		if err != nil {
			return err
		}
		if d := diff(got, held); d != "" {
			return fmt.Errorf("%s", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s caught up %v after it answered HTTP", c.Node(killed), time.Since(began).Round(time.Millisecond))
	var got map[string]string
	err = retryRead(t, ctx, "linearizable list through the restarted "+c.Node(killed), func(ctx context.Context) (err error) {
		got, _, err = list(ctx, c.Client(killed), "load/", rpc.ConsistencyDefault)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.check(got); err != nil {
		t.Errorf("restarted %s: %v", c.Node(killed), err)
	}
}
