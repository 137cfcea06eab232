package kv

import (
	"bytes"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"meridian/rpc"
)

// View is one immutable state of the shard: the state after some raft index.
// It is safe for any number of goroutines, never changes, and costs nothing
// to keep (older Views share most of their memory with newer ones).
//
// The *rpc.KVEntry values a View returns are shared with the View and with
// every later View in which the key is unchanged: callers must not mutate
// them (copy first, e.g. to fill in a response that differs).
type View struct {
	entries *iradix.Tree[*rpc.KVEntry]
	// tombs maps each deleted key to the index of its deletion, as long as
	// the key stays deleted and the tombstone has not been dropped.
	tombs *iradix.Tree[uint64]
	// floor is the highest index of a dropped tombstone: every index a View
	// reports is at least floor.
	floor   uint64
	applied uint64
}

func emptyView() *View {
	return &View{entries: iradix.New[*rpc.KVEntry](), tombs: iradix.New[uint64]()}
}

// Index returns the raft index of the last entry applied to this state.
func (v *View) Index() uint64 { return v.applied }

// Len returns the number of keys.
func (v *View) Len() int { return v.entries.Len() }

// Get returns the entry of key (nil if absent), the blocking-query index of
// the key, and a channel closed when the key may have changed after this View.
//
// The index is the highest raft index at which the key changed, deletions
// included, and never less than the tombstone floor or 1: it only moves
// forward, and a client that waits for it to pass the value it was given
// never spins on 0. The channel may close without a change (see the package
// doc, "Watches"), never misses one.
func (v *View) Get(key string) (e *rpc.KVEntry, index uint64, watch <-chan struct{}) {
	k := []byte(key)
	watch, e, ok := v.entries.Root().GetWatch(k)
	if ok {
		index = e.ModifyIndex
	} else if t, ok := v.tombs.Get(k); ok {
		index = t
	}
	return e, v.clamp(index), watch
}

// List returns what is stored under prefix ("" = everything), in key order,
// with the blocking-query index of the prefix and a channel closed when
// anything under prefix may have changed after this View.
//
// Without a separator, List returns every entry under prefix, or only their
// keys when keysOnly is set. With a separator (as Consul's
// ?keys&separator=/), keys deeper than one level are rolled up: with prefix
// "a/" and separator "/", "a/x" is listed as itself and "a/b/c" and "a/b/d"
// as the one folder "a/b/". Then keysOnly returns direct keys and folders
// together in keys, in order; otherwise entries holds the direct keys and
// keys the folders.
//
// The index is the highest raft index at which anything under prefix
// changed, deletions and keys inside folders included, and never less than
// the tombstone floor or 1.
func (v *View) List(prefix string, keysOnly bool, separator string) (entries []*rpc.KVEntry, keys []string, index uint64, watch <-chan struct{}) {
	p := []byte(prefix)
	sep := []byte(separator)
	it := v.entries.Root().Iterator()
	watch = it.SeekPrefixWatch(p)
	var folder []byte // the last folder listed
	for k, e, ok := it.Next(); ok; k, e, ok = it.Next() {
		index = max(index, e.ModifyIndex)
		if len(sep) != 0 {
			if i := bytes.Index(k[len(p):], sep); i >= 0 {
				f := k[:len(p)+i+len(sep)]
				// The keys of one folder are contiguous in key order.
				if !bytes.Equal(f, folder) {
					folder = f
					keys = append(keys, string(f))
				}
				continue
			}
		}
		if keysOnly {
			keys = append(keys, e.Key)
		} else {
			entries = append(entries, e)
		}
	}
	tit := v.tombs.Root().Iterator()
	tit.SeekPrefix(p)
	for _, t, ok := tit.Next(); ok; _, t, ok = tit.Next() {
		index = max(index, t)
	}
	return entries, keys, v.clamp(index), watch
}

func (v *View) clamp(index uint64) uint64 { return max(index, v.floor, 1) }
