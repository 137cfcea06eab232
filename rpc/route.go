package rpc

import (
	"context"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// KVShardIndex is the placement rule of the KV store: a key lives in KV
// shard number KVShardIndex(key, n) (0-based) of n, the FNV-1a 64-bit hash
// of its first path segment (everything before the first '/') modulo n.
// Servers place keys with it and clients use it to send a call to the
// shard's leader. It is fixed for the life of a datacenter.
func KVShardIndex(key string, n int) int {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		key = key[:i]
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// firstKVShardID is the ID of KV shard 0 (the system shard is 1).
const firstKVShardID = 2

// router knows which server leads each KV shard, from status.shards, so a
// call on one key can go straight to the leader of its shard: the leader
// proposes and reads without a hop through a follower. It refreshes in the
// background every routeRefresh, and at once when asked to after a miss.
type router struct {
	c        *Client
	mu       sync.RWMutex
	kvShards int
	leaders  map[uint64]string // shard ID -> URL of its leader's JSON-RPC
	next     time.Time
	busy     atomic.Bool
}

const routeRefresh = 5 * time.Second

// routed methods and the param that names their key.
var routedMethods = map[string]string{
	MethodKVGet:    "key",
	MethodKVPut:    "key",
	MethodKVDelete: "key",
	MethodKVList:   "prefix",
}

// leaderFor returns the URL of the leader of the shard that holds key, ""
// when unknown. It never blocks: an out-of-date table is refreshed in the
// background.
func (r *router) leaderFor(key string, prefix bool) string {
	r.mu.RLock()
	n, next := r.kvShards, r.next
	var url string
	if n > 0 && (!prefix || strings.Contains(key, "/")) {
		url = r.leaders[uint64(firstKVShardID+KVShardIndex(key, n))]
	}
	r.mu.RUnlock()
	if time.Now().After(next) {
		r.refresh()
	}
	return url
}

// refresh reloads the leader table in the background, one at a time.
func (r *router) refresh() {
	if !r.busy.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	r.next = time.Now().Add(routeRefresh)
	r.mu.Unlock()
	go func() {
		defer r.busy.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var st StatusShardsResult
		if err := r.c.Call(ctx, MethodStatusShards, nil, &st); err != nil {
			return
		}
		leaders := map[uint64]string{}
		n := 0
		for _, s := range st.Shards {
			if s.Kind == "kv" {
				n++
			}
			if s.LeaderRPCAddr != "" {
				if u, err := endpoint(s.LeaderRPCAddr); err == nil {
					leaders[s.ID] = u
				}
			}
		}
		r.mu.Lock()
		r.kvShards, r.leaders = n, leaders
		r.mu.Unlock()
	}()
}

// miss makes the next call refresh the table.
func (r *router) miss() {
	r.mu.Lock()
	r.next = time.Time{}
	r.mu.Unlock()
}
