package rpc_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/rpc"
)

// TestKVShardIndexGolden pins the placement rule to fixed values: changing
// it would move every datacenter's keys between shards.
func TestKVShardIndexGolden(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{
		{"app/web/config", 4, 0}, {"app/web/config", 16, 12},
		{"app", 4, 0}, {"app", 16, 12}, // a folder and its keys share a shard
		{"bench0/k", 4, 3}, {"bench0/k", 16, 11},
		{"users/42", 4, 3}, {"users/42", 16, 3},
		{"", 4, 1}, {"", 16, 5},
	} {
		if got := rpc.KVShardIndex(tc.key, tc.n); got != tc.want {
			t.Errorf("KVShardIndex(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}

// routed is a server that counts the kv.put calls it serves and answers
// status.shards with the leaders the test sets.
type routed struct {
	srv    *httptest.Server
	puts   atomic.Int64
	shards atomic.Pointer[rpc.StatusShardsResult]
}

func newRouted(t *testing.T) *routed {
	r := &routed{}
	api := rpc.NewServer(rpc.DefaultServerConfig())
	rpc.Register(api, rpc.MethodKVPut, "", func(context.Context, *rpc.KVPutParams) (*rpc.KVPutResult, error) {
		r.puts.Add(1)
		return &rpc.KVPutResult{OK: true, Index: 1}, nil
	})
	rpc.Register(api, rpc.MethodStatusShards, "", func(context.Context, *rpc.EmptyParams) (*rpc.StatusShardsResult, error) {
		return r.shards.Load(), nil
	})
	r.srv = httptest.NewServer(api)
	t.Cleanup(r.srv.Close)
	return r
}

func TestRouteToLeaders(t *testing.T) {
	follower, leader := newRouted(t), newRouted(t)
	st := &rpc.StatusShardsResult{Shards: []rpc.ShardStatus{
		{ID: 1, Kind: "system"},
		{ID: 2, Kind: "kv", LeaderRPCAddr: strings.TrimPrefix(leader.srv.URL, "http://")},
	}}
	follower.shards.Store(st)
	leader.shards.Store(st)
	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{follower.srv.URL}, RouteToLeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// The first call goes where it is sent and starts learning the leaders.
	deadline := time.Now().Add(10 * time.Second)
	for leader.puts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("calls never reached the shard leader")
		}
		if _, err := c.KVPut(ctx, &rpc.KVPutParams{Key: "app/x", Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := follower.puts.Load()
	for range 20 {
		if _, err := c.KVPut(ctx, &rpc.KVPutParams{Key: "app/x", Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	// Forwarded raw bodies are routed too.
	body := []byte(`{"jsonrpc":"2.0","id":9,"method":"kv.put","params":{"value":"dg==","key":"app/y"}}`)
	if _, err := c.Forward(ctx, body); err != nil {
		t.Fatal(err)
	}
	if follower.puts.Load() != before || leader.puts.Load() < 21 {
		t.Fatalf("after learning: follower served %d more, leader %d in all", follower.puts.Load()-before, leader.puts.Load())
	}
	// The leader goes away: calls fall back to the addresses given.
	// A call on a kept-alive connection to it may fail as outcome-unknown
	// (the request went out); the next ones go to the follower.
	leader.srv.Close()
	if _, err := c.KVPut(ctx, &rpc.KVPutParams{Key: "app/x", Value: []byte("v")}); err != nil && !errors.Is(err, rpc.ErrUnavailable) {
		t.Fatalf("after the leader died: %v", err)
	}
	for range 3 {
		if _, err := c.KVPut(ctx, &rpc.KVPutParams{Key: "app/x", Value: []byte("v")}); err != nil {
			t.Fatalf("after the leader died: %v", err)
		}
	}
	if n := follower.puts.Load() - before; n < 3 {
		t.Fatalf("the follower took %d calls after the leader died, want at least 3", n)
	}
}
