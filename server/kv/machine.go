package kv

import (
	"fmt"
	"sync/atomic"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"meridian/rpc"
)

// TombstoneLimit bounds the tombstones a shard keeps. When an applied entry
// leaves more than this many, all of them are dropped and the floor rises to
// the highest index dropped. It is part of the replicated behaviour: every
// replica must use the same value, so change it only with a new log version.
const TombstoneLimit = 16384

// Machine is the replicated state machine of one KV shard. Readers call
// View, which never blocks; one writer at a time applies entries through
// Begin/Apply/Commit or replaces the state with RestoreSnapshot.
type Machine struct {
	cur atomic.Pointer[View]
}

// New returns an empty machine at index 0.
func New() *Machine {
	m := &Machine{}
	m.cur.Store(emptyView())
	return m
}

// View returns the current state. It never blocks and never fails.
func (m *Machine) View() *View { return m.cur.Load() }

// Batch applies a run of raft entries and publishes them together on
// Commit: one swap of the current View and one round of watch notifications
// for the whole run. Readers see none of a batch's entries before Commit.
//
// Batches are the writer's: one at a time, from one goroutine, never beside
// RestoreSnapshot (dragonboat serializes Update and RecoverFromSnapshot).
// A Commit that finds the state changed by another writer panics rather
// than lose writes.
type Batch struct {
	m         *Machine
	base      *View
	entries   *iradix.Txn[*rpc.KVEntry]
	tombs     *iradix.Txn[uint64]
	tombCount int
	floor     uint64
	applied   uint64
	done      bool
}

// Begin starts a batch on the current state.
func (m *Machine) Begin() *Batch {
	v := m.cur.Load()
	b := &Batch{
		m:         m,
		base:      v,
		entries:   v.entries.Txn(),
		tombs:     v.tombs.Txn(),
		tombCount: v.tombs.Len(),
		floor:     v.floor,
		applied:   v.applied,
	}
	b.entries.TrackMutate(true)
	return b
}

// Apply applies the command cmd of the raft entry at index. It is
// deterministic: the same entries applied in the same order give the same
// state and results on every replica, however they are split into batches.
// It does not keep cmd.
//
// A command that does not decode or cannot apply (an invalid key, too many
// transaction operations) yields a Result with Err set and changes nothing
// but the applied index. An index that does not follow the last applied
// index is refused the same way, and then not even the applied index moves.
//
// Rules:
//   - OpPut writes Key. With HasCAS it writes only if CASIndex is the key's
//     modify index, or CASIndex is 0 and the key does not exist. The entry
//     keeps its create index, lock index and session across writes.
//   - OpDelete deletes Key, leaving a tombstone. With HasCAS it deletes only
//     if CASIndex is the key's modify index; a CAS delete of a key that does
//     not exist succeeds (there is nothing to delete), so CASIndex 0 means
//     "succeed only if the key is already absent", as for a put, and a
//     retried CAS delete whose first attempt went through still reports OK
//     (this is Consul's rule). Deleting a missing key is OK and changes
//     nothing.
//   - OpDeleteTree deletes every key that starts with Key and is always OK.
//   - OpTxn applies its operations all or none; see applyTxn.
func (b *Batch) Apply(index uint64, cmd []byte) Result {
	if b.done {
		panic("kv: Batch.Apply after Commit")
	}
	if index <= b.applied {
		return Result{Index: index, Err: fmt.Sprintf("kv: index %d does not follow applied index %d", index, b.applied)}
	}
	b.applied = index
	c, err := UnmarshalCommand(cmd)
	if err != nil {
		return Result{Index: index, Err: err.Error()}
	}
	r := Result{Index: index}
	switch c.Op {
	case OpPut:
		if err := ValidateKey(c.Key); err != nil {
			r.Err = err.Error()
			break
		}
		r.OK = b.put(index, c)
	case OpDelete:
		if err := ValidateKey(c.Key); err != nil {
			r.Err = err.Error()
			break
		}
		r.OK = b.delete(index, c)
	case OpDeleteTree:
		if c.HasCAS {
			r.Err = fmt.Sprintf("%v: delete-tree takes no cas index", ErrMalformedCommand)
			break
		}
		b.deleteTree(index, c.Key)
		r.OK = true
	case OpTxn:
		if len(c.Ops) > rpc.MaxTxnOps {
			r.Err = fmt.Sprintf("%v: txn has %d ops, max %d", ErrMalformedCommand, len(c.Ops), rpc.MaxTxnOps)
			break
		}
		r.Txn = b.applyTxn(index, c.Ops)
		r.OK = r.Txn.OK
	}
	if b.tombCount > TombstoneLimit {
		b.dropTombstones()
	}
	return r
}

// Commit publishes the batch: the new View becomes current, then the watch
// channels of everything the batch changed are closed. A Batch is spent
// after Commit.
func (b *Batch) Commit() {
	if b.done {
		panic("kv: Batch.Commit called twice")
	}
	b.done = true
	if b.applied == b.base.applied {
		return // nothing applied
	}
	v := &View{
		entries: b.entries.CommitOnly(),
		tombs:   b.tombs.CommitOnly(),
		floor:   b.floor,
		applied: b.applied,
	}
	if !b.m.cur.CompareAndSwap(b.base, v) {
		panic("kv: state changed under an open Batch: concurrent writers")
	}
	// Notify only now, so that a woken reader finds the new View.
	b.entries.Notify()
}

func (b *Batch) get(key []byte) (*rpc.KVEntry, bool) { return b.entries.Get(key) }

func (b *Batch) put(index uint64, c *Command) bool {
	k := []byte(c.Key)
	if c.HasCAS {
		old, exists := b.get(k)
		if !casHolds(old, exists, c.CASIndex) {
			return false
		}
	}
	// One walk down the tree, not two: insert, then carry over what the
	// replaced entry keeps. e is unpublished until Commit, so it may still
	// change.
	e := newEntry(index, c.Key, c.Value, c.Flags, nil)
	if old, existed := b.entries.Insert(k, e); existed {
		e.CreateIndex, e.LockIndex, e.Session = old.CreateIndex, old.LockIndex, old.Session
	} else if _, ok := b.tombs.Delete(k); ok {
		b.tombCount--
	}
	return true
}

// casHolds reports whether a put with the CAS index cas may replace old.
func casHolds(old *rpc.KVEntry, exists bool, cas uint64) bool {
	if cas == 0 {
		return !exists
	}
	return exists && old.ModifyIndex == cas
}

// newEntry builds the entry a write at index leaves; old is the entry it
// replaces, nil if none.
func newEntry(index uint64, key string, value []byte, flags uint64, old *rpc.KVEntry) *rpc.KVEntry {
	e := &rpc.KVEntry{Key: key, Value: value, Flags: flags, CreateIndex: index, ModifyIndex: index}
	if old != nil {
		e.CreateIndex = old.CreateIndex
		e.LockIndex = old.LockIndex
		e.Session = old.Session
	}
	return e
}

// set stores e under k (which the tree keeps: k must not change after).
func (b *Batch) set(k []byte, e *rpc.KVEntry) {
	if _, existed := b.entries.Insert(k, e); !existed {
		if _, ok := b.tombs.Delete(k); ok {
			b.tombCount--
		}
	}
}

func (b *Batch) delete(index uint64, c *Command) bool {
	k := []byte(c.Key)
	old, exists := b.get(k)
	if !exists {
		return true
	}
	if c.HasCAS && old.ModifyIndex != c.CASIndex {
		return false
	}
	b.remove(index, k)
	return true
}

// remove deletes the existing key k and leaves its tombstone.
func (b *Batch) remove(index uint64, k []byte) {
	b.entries.Delete(k)
	if _, existed := b.tombs.Insert(k, index); !existed {
		b.tombCount++
	}
}

func (b *Batch) deleteTree(index uint64, prefix string) {
	p := []byte(prefix)
	var keys [][]byte
	it := b.entries.Root().Iterator()
	it.SeekPrefix(p)
	for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
		keys = append(keys, k) // the leaf's own key: immutable, safe to share
	}
	if len(keys) == 0 {
		return
	}
	// Key by key, not Txn.DeletePrefix: in iradix v2.1.0, DeletePrefix of a
	// subtree whose top node this transaction already wrote (a put under the
	// prefix earlier in the batch) neither closes the watch channels inside
	// it nor counts its keys out of Len (hashicorp/go-immutable-radix#107).
	for _, k := range keys {
		b.entries.Delete(k)
	}
	// A present key has no tombstone, so the count grows by len(keys). When
	// that passes the limit, Apply would drop every tombstone with a floor
	// of index (the highest there is); skip building them.
	if b.tombCount+len(keys) > TombstoneLimit {
		b.dropTombstones()
		b.floor = max(b.floor, index)
		return
	}
	for _, k := range keys {
		b.tombs.Insert(k, index)
	}
	b.tombCount += len(keys)
}

// dropTombstones forgets every tombstone and raises the floor to the
// highest index among them.
func (b *Batch) dropTombstones() {
	b.tombs.Root().Walk(func(_ []byte, t uint64) bool {
		b.floor = max(b.floor, t)
		return false
	})
	b.tombs = iradix.New[uint64]().Txn()
	b.tombCount = 0
}
