package kv

import (
	"fmt"

	"meridian/rpc"
)

// applyTxn applies ops all or none, in two phases. The first evaluates
// every operation against the batch's state seen through an overlay of the
// operations before it, writing nothing; if any operation fails, the
// transaction reports every failure and the batch is left exactly as it
// was (earlier entries of the batch included). Otherwise the second phase
// writes the overlay's final state into the batch.
//
// Verbs (Index is TxnOp.Index):
//   - set: write the key. get: read it (Entry nil if absent).
//   - delete: delete the key (no error if absent).
//   - cas: write if the key's modify index is Index, or Index is 0 and the
//     key does not exist.
//   - delete-cas: delete if the key's modify index is Index; succeeds if the
//     key does not exist, as OpDelete with a CAS does.
//   - check-index: fail unless the key exists with modify index Index.
//   - check-not-exists: fail if the key exists.
//
// Every result carries the key as the operation left it: the written entry
// for set and cas, the current one for get and check-index, nil for the
// deletes and check-not-exists.
func (b *Batch) applyTxn(index uint64, ops []rpc.TxnOp) *rpc.KVTxnResult {
	t := txnOverlay{b: b}
	res := &rpc.KVTxnResult{Index: index}
	var results []rpc.TxnResult
	if len(ops) != 0 {
		results = make([]rpc.TxnResult, len(ops))
	}
	fail := func(i int, format string, args ...any) {
		res.Errors = append(res.Errors, rpc.TxnError{OpIndex: i, What: fmt.Sprintf(format, args...)})
	}
	for i := range ops {
		op := &ops[i]
		results[i].Verb = op.Verb
		switch op.Verb {
		case rpc.TxnSet, rpc.TxnGet, rpc.TxnDelete, rpc.TxnCAS, rpc.TxnDeleteCAS,
			rpc.TxnCheckIndex, rpc.TxnCheckNotExists:
		default:
			fail(i, "unknown verb %q", op.Verb)
			continue
		}
		if err := ValidateKey(op.Key); err != nil {
			fail(i, "%v", err)
			continue
		}
		cur := t.get(op.Key)
		switch op.Verb {
		case rpc.TxnSet:
			results[i].Entry = t.set(op.Key, newEntry(index, op.Key, op.Value, op.Flags, cur))
		case rpc.TxnGet:
			results[i].Entry = cur
		case rpc.TxnDelete:
			t.set(op.Key, nil)
		case rpc.TxnCAS:
			if what := checkIndex(op.Key, cur, op.Index); what != "" {
				fail(i, "%s", what)
				continue
			}
			results[i].Entry = t.set(op.Key, newEntry(index, op.Key, op.Value, op.Flags, cur))
		case rpc.TxnDeleteCAS:
			if cur != nil {
				if what := checkIndex(op.Key, cur, op.Index); what != "" {
					fail(i, "%s", what)
					continue
				}
			}
			t.set(op.Key, nil)
		case rpc.TxnCheckIndex:
			if cur == nil {
				fail(i, "key %q does not exist", op.Key)
				continue
			}
			if what := checkIndex(op.Key, cur, op.Index); what != "" {
				fail(i, "%s", what)
				continue
			}
			results[i].Entry = cur
		case rpc.TxnCheckNotExists:
			if cur != nil {
				fail(i, "key %q exists", op.Key)
			}
		}
	}
	if len(res.Errors) != 0 {
		return res
	}
	res.OK = true
	res.Results = results
	t.commit(index)
	return res
}

// checkIndex says why the key's current entry cur (nil if absent) does not
// match the CAS index want, or "" if it does. want 0 means "absent".
func checkIndex(key string, cur *rpc.KVEntry, want uint64) string {
	switch {
	case want == 0 && cur != nil:
		return fmt.Sprintf("key %q exists", key)
	case want == 0:
		return ""
	case cur == nil:
		return fmt.Sprintf("key %q does not exist", key)
	case cur.ModifyIndex != want:
		return fmt.Sprintf("key %q modify index is %d, not %d", key, cur.ModifyIndex, want)
	}
	return ""
}

// txnOverlay is the state a transaction sees: the keys it wrote so far over
// the batch's state. At most rpc.MaxTxnOps keys, so a map will do.
type txnOverlay struct {
	b       *Batch
	written map[string]*rpc.KVEntry // nil entry: deleted
	order   []string                // written keys in first-write order
}

func (t *txnOverlay) get(key string) *rpc.KVEntry {
	if e, ok := t.written[key]; ok {
		return e
	}
	e, _ := t.b.get([]byte(key))
	return e
}

func (t *txnOverlay) set(key string, e *rpc.KVEntry) *rpc.KVEntry {
	if t.written == nil {
		t.written = make(map[string]*rpc.KVEntry)
	}
	if _, ok := t.written[key]; !ok {
		t.order = append(t.order, key)
	}
	t.written[key] = e
	return e
}

// commit writes the final state of every written key into the batch. A key
// that ends deleted gets a tombstone only if it existed before the
// transaction: otherwise nothing observable changed.
func (t *txnOverlay) commit(index uint64) {
	for _, key := range t.order {
		k := []byte(key)
		if e := t.written[key]; e != nil {
			t.b.set(k, e)
		} else if _, existed := t.b.get(k); existed {
			t.b.remove(index, k)
		}
	}
}
