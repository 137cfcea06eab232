package kv

import (
	"bytes"
	"testing"

	"meridian/rpc"
)

// Command builders for tests.

func putCmd(key, value string) []byte {
	return (&Command{Op: OpPut, Key: key, Value: []byte(value)}).Marshal()
}

func putFlagsCmd(key, value string, flags uint64) []byte {
	return (&Command{Op: OpPut, Key: key, Value: []byte(value), Flags: flags}).Marshal()
}

func casCmd(key, value string, cas uint64) []byte {
	return (&Command{Op: OpPut, Key: key, Value: []byte(value), HasCAS: true, CASIndex: cas}).Marshal()
}

func delCmd(key string) []byte { return (&Command{Op: OpDelete, Key: key}).Marshal() }

func delCASCmd(key string, cas uint64) []byte {
	return (&Command{Op: OpDelete, Key: key, HasCAS: true, CASIndex: cas}).Marshal()
}

func treeCmd(prefix string) []byte { return (&Command{Op: OpDeleteTree, Key: prefix}).Marshal() }

func txnCmd(ops ...rpc.TxnOp) []byte { return (&Command{Op: OpTxn, Ops: ops}).Marshal() }

// harness applies commands to a machine at consecutive raft indexes.
type harness struct {
	t    testing.TB
	m    *Machine
	next uint64
	// afterBatch, when set, runs after each batch with its commands.
	afterBatch func(cmds [][]byte)
}

func newHarness(t testing.TB) *harness { return &harness{t: t, m: New(), next: 1} }

// batch applies cmds in one batch and returns their results.
func (h *harness) batch(cmds ...[]byte) []Result {
	h.t.Helper()
	b := h.m.Begin()
	rs := make([]Result, len(cmds))
	for i, c := range cmds {
		rs[i] = b.Apply(h.next, c)
		if rs[i].Index != h.next {
			h.t.Fatalf("result index %d, want %d", rs[i].Index, h.next)
		}
		h.next++
	}
	b.Commit()
	if h.afterBatch != nil {
		h.afterBatch(cmds)
	}
	return rs
}

// apply applies one command in its own batch.
func (h *harness) apply(cmd []byte) Result {
	h.t.Helper()
	return h.batch(cmd)[0]
}

// mustOK applies cmds one batch each and fails the test unless each is OK.
func (h *harness) mustOK(cmds ...[]byte) {
	h.t.Helper()
	for _, c := range cmds {
		if r := h.apply(c); !r.OK || r.Err != "" {
			h.t.Fatalf("apply at %d: %+v", r.Index, r)
		}
	}
}

func (h *harness) snapshot() []byte {
	h.t.Helper()
	return snapshotBytes(h.t, h.m.View())
}

func snapshotBytes(t testing.TB, v *View) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := v.WriteSnapshot(&buf); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	return buf.Bytes()
}

// dump returns every entry and tombstone of v, for comparisons.
func dump(v *View) (entries map[string]rpc.KVEntry, tombs map[string]uint64) {
	entries = map[string]rpc.KVEntry{}
	tombs = map[string]uint64{}
	v.entries.Root().Walk(func(k []byte, e *rpc.KVEntry) bool {
		entries[string(k)] = *e
		return false
	})
	v.tombs.Root().Walk(func(k []byte, t uint64) bool {
		tombs[string(k)] = t
		return false
	})
	return entries, tombs
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// checkInvariants verifies what every View must satisfy.
func checkInvariants(t testing.TB, v *View) {
	t.Helper()
	n := 0
	var prev []byte
	v.entries.Root().Walk(func(k []byte, e *rpc.KVEntry) bool {
		n++
		if string(k) != e.Key {
			t.Fatalf("leaf key %q holds entry of %q", k, e.Key)
		}
		if err := checkEntry(e, uint64(n-1), string(prev), v.applied); err != nil {
			t.Fatalf("entry %q: %v", k, err)
		}
		if _, ok := v.tombs.Get(k); ok {
			t.Fatalf("key %q is both entry and tombstone", k)
		}
		prev = k
		return false
	})
	if n != v.Len() {
		t.Fatalf("Len() = %d, tree holds %d", v.Len(), n)
	}
	tn := 0
	v.tombs.Root().Walk(func(k []byte, idx uint64) bool {
		tn++
		if idx <= v.floor || idx > v.applied {
			t.Fatalf("tombstone %q at %d, floor %d applied %d", k, idx, v.floor, v.applied)
		}
		return false
	})
	if tn != v.tombs.Len() || tn > TombstoneLimit || v.floor > v.applied {
		t.Fatalf("%d tombstones (Len %d), floor %d, applied %d", tn, v.tombs.Len(), v.floor, v.applied)
	}
}
