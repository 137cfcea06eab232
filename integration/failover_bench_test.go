package integration

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
	"meridian/server/shard"
)

var (
	failoverRuns  = flag.Int("failover.runs", 0, "TestFailoverTiming: kill the leader under load this many times and report the time to the first write after each kill (0: skip)")
	failoverReuse = flag.Bool("failover.reuse", false, "TestFailoverTiming: keep one cluster, restarting the killed server before the next kill (a rolling restart), instead of a fresh cluster per kill")
)

// TestFailoverTiming is the failover figure of docs/performance.md: it
// kills the leader of a KV shard under a 16-writer load N times
// (-failover.runs=N) and reports the median and the maximum time from the
// kill to the first acknowledged write sent after it, and of the longest
// single request after the kill. Opt-in: it takes a few seconds per run.
//
// Each kill hits a fresh, healthy cluster. With -failover.reuse the kills
// follow each other on one cluster, the killed server restarted and ready
// (WaitReady) before the next kill: the case of a rolling restart, where
// peers may still be reconnecting to the restarted server.
//
//	go test -v -run TestFailoverTiming ./integration -failover.runs=5
func TestFailoverTiming(t *testing.T) {
	if *failoverRuns <= 0 {
		t.Skip("opt-in: -failover.runs=N")
	}
	var c *cluster.Cluster
	const folder = "failover/"
	var first, longest []time.Duration
	for run := 1; run <= *failoverRuns; run++ {
		if c == nil || !*failoverReuse {
			if c != nil {
				c.Close()
			}
			c = cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
		}
		id := shard.ForKey(folder, c.KVShards())
		prefix := fmt.Sprintf("%sr%02d-w", folder, run)
		l := startLoad(t, c, prefix, 16)
		killed, s := killLeaderUnderLoad(t, c, l, id)
		l.stopLoad()
		t.Logf("run %d: killed %s: %v", run, c.Node(killed), s)
		for _, a := range l.failures() {
			t.Errorf("run %d: a write failed with an error no client can retry: %v", run, a.err)
		}
		first, longest = append(first, s.ToFirstWrite), append(longest, s.Longest)

		ctx := within(t, 60*time.Second)
		survivor := (killed + 1) % c.N()
		got, _, err := list(ctx, c.Client(survivor), prefix, rpc.ConsistencyDefault)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.check(got); err != nil {
			t.Errorf("run %d: %s: %v", run, c.Node(survivor), err)
		}
		if *failoverReuse {
			c.Restart(killed)
			if err := c.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	med, worst := stats(first)
	lmed, lworst := stats(longest)
	mode := "a fresh cluster each"
	if *failoverReuse {
		mode = "one cluster, the killed server restarted before the next kill"
	}
	t.Logf("failover over %d kills of the leader under a 16-writer load (3 servers, loopback, -raft-logdb tiny; %s):", len(first), mode)
	t.Logf("  kill -> first acknowledged write: median %v, max %v  (all: %v)", med, worst, round(first))
	t.Logf("  longest single request after the kill: median %v, max %v  (all: %v)", lmed, lworst, round(longest))
}

func stats(d []time.Duration) (median, maxd time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median.Round(time.Millisecond), s[n-1].Round(time.Millisecond)
}

func round(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, v := range d {
		out[i] = v.Round(time.Millisecond)
	}
	return out
}
