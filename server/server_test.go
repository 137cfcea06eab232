package server_test

import (
	"errors"
	"fmt"
	"testing"

	"meridian/rpc"
	"meridian/server"
	"meridian/server/servertest"
	"meridian/server/shard"
)

func TestRestartKeepsData(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	var last rpc.KVPutResult
	for i := 0; i < 50; i++ {
		last = put(t, c, fmt.Sprintf("f%d/k", i%7), fmt.Sprint(i))
	}
	c.Restart(t, 0)
	c.WaitReady(t)
	var res rpc.KVListResult
	c.Call(t, 0, rpc.MethodKVList, rpc.KVListParams{}, &res)
	if len(res.Entries) != 7 {
		t.Fatalf("after restart %d keys, want 7", len(res.Entries))
	}
	if g := get(t, c, "f0/k"); g.Entry == nil || string(g.Entry.Value) != "49" {
		t.Fatalf("after restart f0/k = %+v, want 49", g.Entry)
	}
	if g := get(t, c, fmt.Sprintf("f%d/k", 49%7)); g.Entry.ModifyIndex != last.Index {
		t.Fatalf("modify index after restart %d, want %d", g.Entry.ModifyIndex, last.Index)
	}
}

func TestShardCountIsFixed(t *testing.T) {
	c := servertest.Start(t, servertest.Options{KVShards: 4})
	put(t, c, "a/b", "c")
	c.Servers[0].Close()

	cfg := c.Configs[0]
	cfg.KVShards = 8
	_, err := server.New(cfg)
	if !errors.Is(err, server.ErrShardCountChanged) {
		t.Fatalf("start with 8 shards on a 4-shard data dir: %v, want ErrShardCountChanged", err)
	}
	cfg.KVShards = 0 // as recorded
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.KVShards() != 4 {
		t.Fatalf("KVShards = %d, want the recorded 4", s.KVShards())
	}
}

func TestConfigValidate(t *testing.T) {
	base := server.DefaultConfig()
	base.Node, base.DataDir = "s1", t.TempDir()
	base.Peers = []rpc.Peer{{Node: "s1", RaftAddr: "127.0.0.1:1"}}
	cases := []struct {
		name   string
		mutate func(*server.Config)
	}{
		{"no node", func(c *server.Config) { c.Node = "" }},
		{"no data dir", func(c *server.Config) { c.DataDir = "" }},
		{"too many shards", func(c *server.Config) { c.KVShards = shard.MaxKVShards + 1 }},
		{"peer twice", func(c *server.Config) { c.Peers = append(c.Peers, c.Peers[0]) }},
		{"peer without address", func(c *server.Config) { c.Peers = []rpc.Peer{{Node: "s1"}} }},
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("base config invalid: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Peers = append([]rpc.Peer(nil), base.Peers...)
			tc.mutate(&cfg)
			if err := cfg.Validate(); err == nil {
				t.Fatal("Validate accepted it")
			}
		})
	}
}

func TestStatus(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 3, KVShards: 2})
	var shards rpc.StatusShardsResult
	c.Call(t, 1, rpc.MethodStatusShards, rpc.EmptyParams{}, &shards)
	if len(shards.Shards) != 3 {
		t.Fatalf("%d shards, want system + 2", len(shards.Shards))
	}
	for _, s := range shards.Shards {
		if s.Leader == 0 || s.LeaderNode == "" || len(s.Replicas) != 3 || s.Term == 0 {
			t.Fatalf("shard %+v: want a leader, a term and 3 replicas", s)
		}
	}
	var leader rpc.StatusLeaderResult
	c.Call(t, 2, rpc.MethodStatusLeader, rpc.EmptyParams{}, &leader)
	if leader.Leader == "" {
		t.Fatal("no leader address")
	}
	var peers rpc.StatusPeersResult
	c.Call(t, 0, rpc.MethodStatusPeers, rpc.EmptyParams{}, &peers)
	if len(peers.Peers) != 3 || peers.Peers[0].Node != "s1" || peers.Peers[0].ReplicaID != 1 {
		t.Fatalf("peers: %+v", peers)
	}
}

// TestWriteThroughFollower: every server accepts writes and linearizable
// reads for every shard, whoever leads it.
func TestWriteThroughFollower(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 3})
	for i := 0; i < 3; i++ {
		key := fmt.Sprintf("f%d/k", i)
		var res rpc.KVPutResult
		c.Call(t, i, rpc.MethodKVPut, rpc.KVPutParams{Key: key, Value: []byte{byte(i)}}, &res)
		for j := 0; j < 3; j++ {
			var g rpc.KVGetResult
			c.Call(t, j, rpc.MethodKVGet, rpc.KVGetParams{Key: key}, &g)
			if g.Entry == nil || g.Entry.ModifyIndex != res.Index {
				t.Fatalf("write on s%d, read on s%d: %+v", i+1, j+1, g.Entry)
			}
		}
	}
}
