// Package kv is the replicated state machine of one KV shard: keys with
// values, flags and indexes, CAS writes, delete-tree, atomic transactions,
// blocking-query indexes and watches, and snapshots.
//
// It is pure: applying an entry depends only on the state and the entry,
// with no clock, randomness or I/O, so every replica computes the same state
// and results, and the package is tested without Raft. The dragonboat
// adapter (elsewhere) is a thin layer over it.
//
// The state lives in immutable radix trees (hashicorp/go-immutable-radix, as
// Consul's memdb). Machine.View loads the current state from an atomic
// pointer: reads and snapshots never lock and never wait for writes, and
// writes never wait for them.
//
// # Usage
//
// An IConcurrentStateMachine adapter maps onto the package like this:
//
//	m := kv.New()
//
//	// Update(entries): one Batch per call, so a burst of concurrent puts
//	// costs one state swap and one round of watch notifications.
//	b := m.Begin()
//	for i, e := range entries {
//		value, data := b.Apply(e.Index, e.Cmd).Encode()
//		entries[i].Result = sm.Result{Value: value, Data: data}
//	}
//	b.Commit()
//
//	// Lookup(query): never blocks.
//	v := m.View()
//	entry, index, watch := v.Get("app/web/config")
//
//	// PrepareSnapshot captures the state; SaveSnapshot streams it beside
//	// further updates; RecoverFromSnapshot replaces it.
//	ctx := m.View()
//	err := ctx.WriteSnapshot(w)
//	err = m.RestoreSnapshot(r)
//
// The proposer builds a Command, proposes cmd.Marshal() and reads the answer
// back with DecodeResult(result.Value, result.Data).
//
// # Blocking queries
//
// Get and List return an index: the highest raft index at which anything
// under the key or prefix changed, deletions included. Deletions leave
// tombstones (key and delete index) in a second tree; a re-created key loses
// its tombstone. When more than TombstoneLimit tombstones exist, all are
// dropped and a floor rises to the highest index dropped; every index is at
// least the floor, and at least 1. So an index only moves forward.
//
// A blocking query waits outside the machine:
//
//	for {
//		v := m.View()
//		e, index, watch := v.Get(key)
//		if index > minIndex {
//			return e, index
//		}
//		select {
//		case <-watch:
//		case <-ctx.Done():
//			return e, index
//		}
//	}
//
// # Watches
//
// A watch channel is the mutation channel of a radix-tree node: for an
// existing key, its leaf; for a missing key, the deepest node on its path;
// for a prefix, the deepest node whose subtree holds every key under the
// prefix. What this guarantees:
//
//   - No missed wake-up. Any change to a key under the prefix (or to the key)
//     after the View was taken closes the channel, at the Commit of the batch
//     that makes it, after the new View is published. Trees are
//     copy-on-write, so a change rewrites every node from the root to the
//     key, the watched one included; RestoreSnapshot closes every channel.
//   - One close per change, shared by any number of waiters: thousands of
//     goroutines on one prefix cost one channel close, and a batch closes
//     each channel once however many of its entries touch it.
//   - Spurious wake-ups happen, and a wake-up does not promise a change (so
//     compare indexes, as above). Writes outside the prefix close its
//     channel only when they rewrite the watched node itself: when the
//     written key runs into the node's compressed path (watching "a/" while
//     the tree holds only "a/x", then writing "ab", splits that node), when
//     a delete leaves the node's parent with a single child and the two are
//     merged, or for a missing key, any write under the node its search
//     stopped at. Writes in a disjoint subtree that keeps its shape (say
//     "b/..." while watching "a/", with both subtrees holding keys) do not
//     close it.
//   - Dropping tombstones raises indexes without closing channels: no data
//     changed, and a waiter sees the higher index on its next wake-up or
//     timeout.
//
// Entries returned by a View are shared with the tree: callers must not
// mutate them.
package kv
