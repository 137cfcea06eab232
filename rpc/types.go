package rpc

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"
)

// Method names of the public API. Names are snake_case groups with a dot;
// see docs/RATIONALE.md before changing one.
const (
	MethodKVGet    = "kv.get"
	MethodKVPut    = "kv.put"
	MethodKVList   = "kv.list"
	MethodKVDelete = "kv.delete"
	MethodKVTxn    = "kv.txn"

	MethodStatusLeader = "status.leader"
	MethodStatusPeers  = "status.peers"
	MethodStatusShards = "status.shards"

	MethodDiscover = "rpc.discover"
)

// Consistency modes of a read.
const (
	ConsistencyDefault = "default" // linearizable, via Raft ReadIndex
	ConsistencyStale   = "stale"   // the local replica, possibly behind
)

// Duration is a time.Duration that travels as a Go duration string ("30s").
// A bare JSON number is taken as nanoseconds, as time.Duration would be.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts "1m30s" style strings and integers (nanoseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: want a Go duration such as \"30s\"", s)
		}
		if v < 0 {
			return fmt.Errorf("invalid duration %q: must not be negative", s)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid duration %s: want a string such as \"30s\"", string(b))
	}
	if n < 0 {
		return fmt.Errorf("invalid duration %d: must not be negative", n)
	}
	*d = Duration(n)
	return nil
}

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// KVEntry is one key with its value and indexes. Value is base64 in JSON.
type KVEntry struct {
	Key         string `json:"key"`
	Value       []byte `json:"value"`
	Flags       uint64 `json:"flags"`
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
	LockIndex   uint64 `json:"lock_index"`
	Session     string `json:"session,omitempty"`
}

// WriteOptions are common to every write.
type WriteOptions struct {
	// DC names the datacenter; empty means the local one.
	DC string `json:"dc,omitempty"`
	// Timeout bounds the call on the server (default 10s, max 60s).
	Timeout Duration `json:"timeout,omitempty"`
}

// ReadOptions are common to every read.
type ReadOptions struct {
	DC          string `json:"dc,omitempty"`
	Consistency string `json:"consistency,omitempty"`
	// Index makes the read blocking: it returns when the data changes past
	// Index, or when Wait runs out (default 5m, max 10m, jittered).
	Index   uint64   `json:"index,omitempty"`
	Wait    Duration `json:"wait,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// blockingRead reports whether the read waits for a change (Index set).
func (o ReadOptions) blockingRead() bool { return o.Index > 0 }

// DefaultWait and MaxWait are a blocking read's wait when Wait is unset,
// and the most it may be: the server's defaults (server.DefaultConfig).
const (
	DefaultWait = 5 * time.Minute
	MaxWait     = 10 * time.Minute
)

// Hold is the longest a server may hold a read with these options before
// it answers, on top of the read's own work: the wait of a blocking read
// (DefaultWait when unset, at most MaxWait) and the jitter of up to a
// 16th that the server adds; 0 for a read that does not block. A caller
// bounding the call adds it to its own timeout.
func (o ReadOptions) Hold() time.Duration {
	if o.Index == 0 {
		return 0
	}
	w := cmp.Or(o.Wait.Std(), DefaultWait)
	w = min(max(w, 0), MaxWait)
	return w + w/16
}

// HoldFor is Hold for any call's params: typed params that embed
// ReadOptions, or raw JSON (json.RawMessage, []byte) holding "index" and
// "wait"; 0 for anything else.
func HoldFor(params any) time.Duration {
	switch p := params.(type) {
	case interface{ Hold() time.Duration }:
		return p.Hold()
	case json.RawMessage:
		return HoldFor([]byte(p))
	case []byte:
		var o ReadOptions
		_ = json.Unmarshal(p, &o) // a bad param is the server's to report
		return o.Hold()
	}
	return 0
}

// ReadMeta is carried by every read answer.
type ReadMeta struct {
	// Index is the Raft index of the data the answer reflects; pass it back
	// as ReadOptions.Index to wait for a change.
	Index uint64 `json:"index"`
	// KnownLeader and LastContactMS are set on stale reads.
	KnownLeader   *bool  `json:"known_leader,omitempty"`
	LastContactMS *int64 `json:"last_contact_ms,omitempty"`
}

type KVGetParams struct {
	Key string `json:"key"`
	ReadOptions
}

type KVGetResult struct {
	Entry *KVEntry `json:"entry"`
	ReadMeta
}

type KVPutParams struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
	Flags uint64 `json:"flags,omitempty"`
	// CAS, when set, makes the put conditional on the key's modify index:
	// 0 means only if the key does not exist.
	CAS *uint64 `json:"cas,omitempty"`
	WriteOptions
}

type KVPutResult struct {
	OK    bool   `json:"ok"`
	Index uint64 `json:"index"`
}

type KVListParams struct {
	Prefix    string `json:"prefix"`
	KeysOnly  bool   `json:"keys_only,omitempty"`
	Separator string `json:"separator,omitempty"`
	ReadOptions
}

type KVListResult struct {
	Entries []*KVEntry `json:"entries,omitempty"`
	Keys    []string   `json:"keys,omitempty"`
	ReadMeta
}

type KVDeleteParams struct {
	Key     string  `json:"key"`
	Recurse bool    `json:"recurse,omitempty"`
	CAS     *uint64 `json:"cas,omitempty"`
	WriteOptions
}

type KVDeleteResult struct {
	OK    bool   `json:"ok"`
	Index uint64 `json:"index"`
}

// Transaction verbs.
const (
	TxnSet            = "set"
	TxnGet            = "get"
	TxnDelete         = "delete"
	TxnCAS            = "cas"              // set if modify index == Index
	TxnDeleteCAS      = "delete-cas"       // delete if modify index == Index
	TxnCheckIndex     = "check-index"      // fail unless modify index == Index
	TxnCheckNotExists = "check-not-exists" // fail if the key exists
)

// MaxTxnOps is the most operations one kv.txn may hold.
const MaxTxnOps = 128

type TxnOp struct {
	Verb  string `json:"verb"`
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"`
	Flags uint64 `json:"flags,omitempty"`
	Index uint64 `json:"index,omitempty"`
}

type KVTxnParams struct {
	Ops []TxnOp `json:"ops"`
	WriteOptions
}

// TxnResult is the outcome of one operation of a transaction that committed.
// Entry is the key as the operation left it (nil after a delete).
type TxnResult struct {
	Verb  string   `json:"verb"`
	Entry *KVEntry `json:"entry"`
}

// TxnError names an operation that made the transaction fail.
type TxnError struct {
	OpIndex int    `json:"op_index"`
	What    string `json:"what"`
}

type KVTxnResult struct {
	OK      bool        `json:"ok"`
	Results []TxnResult `json:"results,omitempty"`
	Errors  []TxnError  `json:"errors,omitempty"`
	Index   uint64      `json:"index"`
}

// EmptyParams is the params object of methods that take none but the
// common options.
type EmptyParams struct {
	DC      string   `json:"dc,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

type StatusLeaderResult struct {
	// Leader is the Raft address of the system shard's leader, "" if none.
	Leader string `json:"leader"`
	Node   string `json:"node,omitempty"`
}

type Peer struct {
	Node      string `json:"node"`
	ReplicaID uint64 `json:"replica_id"`
	RaftAddr  string `json:"raft_addr"`
}

type StatusPeersResult struct {
	Peers []Peer `json:"peers"`
}

type ShardStatus struct {
	ID         uint64 `json:"id"`
	Kind       string `json:"kind"` // "system" or "kv"
	Leader     uint64 `json:"leader"`
	LeaderNode string `json:"leader_node,omitempty"`
	// LeaderRPCAddr is the leader's JSON-RPC address (host:port), when
	// known: clients send calls on the shard's keys there.
	LeaderRPCAddr string   `json:"leader_rpc_addr,omitempty"`
	Term          uint64   `json:"term"`
	AppliedIndex  uint64   `json:"applied_index"`
	Replicas      []uint64 `json:"replicas"`
}

type StatusShardsResult struct {
	Node   string        `json:"node"`
	Shards []ShardStatus `json:"shards"`
}
