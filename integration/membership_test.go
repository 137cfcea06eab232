package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

// peersOf asks server i for status.peers.
func peersOf(ctx context.Context, c *cluster.Cluster, i int) ([]rpc.Peer, error) {
	res, err := c.Client(i).StatusPeers(ctx, nil)
	if err != nil {
		return nil, err
	}
	return res.Peers, nil
}

// TestBootstrapJoinLeave: three servers form a datacenter from gossip
// (-bootstrap-expect 3), a fourth joins the running datacenter and
// catches up, and one leaves it with `meridian leave`.
func TestBootstrapJoinLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 2, Bootstrap: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peers, err := peersOf(ctx, c, 0)
	if err != nil || len(peers) != 3 || peers[0].Node != "s1" || peers[2].Node != "s3" {
		t.Fatalf("peers after bootstrap: %+v %v", peers, err)
	}
	for i := range 50 {
		if _, err := c.ClientAll().KVPut(ctx, &rpc.KVPutParams{Key: fmt.Sprintf("app%d/k", i%7), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}

	s4 := c.AddServer()
	err = cluster.Eventually(ctx, "four peers seen by every server", func(ctx context.Context) error {
		for i := range 4 {
			p, err := peersOf(ctx, c, i)
			if err != nil {
				return err
			}
			if len(p) != 4 {
				return fmt.Errorf("server %d sees %d peers", i, len(p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The new server holds what was written before it came: a stale read
	// of its own replica.
	err = cluster.Eventually(ctx, "s4 caught up", func(ctx context.Context) error {
		var res rpc.KVListResult
		if err := c.Client(s4).Call(ctx, rpc.MethodKVList, rpc.KVListParams{Prefix: "", KeysOnly: true,
			ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}}, &res); err != nil {
			return err
		}
		if len(res.Keys) != 7 {
			return fmt.Errorf("s4 holds %d keys, want 7", len(res.Keys))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// s2 leaves: every shard drops it and writes go on.
	c.Leave(1)
	err = cluster.Eventually(ctx, "three peers after the leave", func(ctx context.Context) error {
		for _, i := range []int{0, 2, 3} {
			p, err := peersOf(ctx, c, i)
			if err != nil {
				return err
			}
			for _, pr := range p {
				if pr.Node == "s2" {
					return fmt.Errorf("server %d still lists s2: %+v", i, p)
				}
			}
			if len(p) != 3 {
				return fmt.Errorf("server %d sees %d peers", i, len(p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A client retries what is retryable, as the CLI does.
	if err := c.Client(s4).CallRetry(ctx, rpc.MethodKVPut, &rpc.KVPutParams{Key: "app0/after", Value: []byte("v")}, nil); err != nil {
		t.Fatalf("write after the leave: %v", err)
	}
}
