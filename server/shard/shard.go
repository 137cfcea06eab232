// Package shard is the placement rule of a datacenter's data: which Raft
// group (shard) holds what. The system shard holds the catalog; N KV shards
// hold keys, chosen by a hash of a key's first path segment so that every
// key of one top-level folder lives in one shard.
package shard

import (
	"fmt"
	"strings"
	"time"

	"meridian/rpc"
)

// ID names a Raft group. IDs are stable: they are written in every replica's
// log directory.
type ID uint64

// ReplicaID names one server's replica of a shard; a server has the same
// ReplicaID in every shard.
type ReplicaID uint64

// System is the shard of nodes, services, checks and cluster metadata.
const System ID = 1

// firstKV is the ID of KV shard 0; KV shard i is firstKV+i.
const firstKV ID = 2

// DefaultKVShards is the number of KV shards a new datacenter gets.
const DefaultKVShards = 4

// MaxKVShards bounds the KV shard count a datacenter may be created with.
const MaxKVShards = 256

// KV returns the ID of KV shard i (0-based).
func KV(i int) ID { return firstKV + ID(i) }

// All lists the system shard then every KV shard of a datacenter with n KV
// shards.
func All(n int) []ID {
	ids := make([]ID, 0, n+1)
	ids = append(ids, System)
	for i := 0; i < n; i++ {
		ids = append(ids, KV(i))
	}
	return ids
}

// Kind tells "system" or "kv".
func (id ID) Kind() string {
	if id == System {
		return "system"
	}
	return "kv"
}

func (id ID) String() string { return fmt.Sprintf("%s-%d", id.Kind(), uint64(id)) }

// Folder returns the part of key that picks its shard: everything before
// the first '/', or the whole key when it has none.
func Folder(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// ForKey is the one placement rule: the KV shard of key among n KV shards is
// the FNV-1a 64-bit hash of its first path segment, modulo n. Changing it
// would move data between shards: it is fixed for the life of a datacenter.
func ForKey(key string, n int) ID {
	return KV(rpc.KVShardIndex(key, n))
}

// ForPrefix returns the one shard that can hold keys starting with prefix,
// or false when the prefix does not name a whole first segment (an empty
// prefix, or one without '/' such as "app") and so may span every shard.
func ForPrefix(prefix string, n int) (ID, bool) {
	if !strings.Contains(prefix, "/") {
		return 0, false
	}
	return ForKey(prefix, n), true
}

// Info describes one shard as a replica sees it.
type Info struct {
	ID       ID
	Leader   ReplicaID // 0 when unknown
	Term     uint64
	IsLeader bool
	Replicas []ReplicaID
	// Applied is the Raft index of the last command this replica's state
	// machine applied (entries without a command, such as elections'
	// no-ops and membership changes, do not reach it).
	Applied uint64
	// LastContact is how long since the leader last confirmed this replica:
	// 0 on the leader, negative when never.
	LastContact time.Duration
}
