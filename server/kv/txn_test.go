package kv

import (
	"reflect"
	"testing"

	"meridian/rpc"
)

func set(key, value string) rpc.TxnOp {
	return rpc.TxnOp{Verb: rpc.TxnSet, Key: key, Value: []byte(value)}
}
func get(key string) rpc.TxnOp { return rpc.TxnOp{Verb: rpc.TxnGet, Key: key} }
func del(key string) rpc.TxnOp { return rpc.TxnOp{Verb: rpc.TxnDelete, Key: key} }
func opIdx(verb, key string, index uint64) rpc.TxnOp {
	return rpc.TxnOp{Verb: verb, Key: key, Index: index}
}

func ent(key, value string, create, modify uint64) *rpc.KVEntry {
	var v []byte
	if value != "" {
		v = []byte(value)
	}
	return &rpc.KVEntry{Key: key, Value: v, CreateIndex: create, ModifyIndex: modify}
}

func TestTxn(t *testing.T) {
	// Every case starts from "a" put at 1 and "b" put at 2, then runs its
	// transaction at index 3.
	tests := []struct {
		name       string
		ops        []rpc.TxnOp
		wantOK     bool
		wantResult []rpc.TxnResult
		wantErrors []rpc.TxnError
		wantKeys   map[string]*rpc.KVEntry // nil entry: absent
	}{
		{
			name:   "empty txn commits",
			wantOK: true,
		},
		{
			name:   "set get delete",
			ops:    []rpc.TxnOp{set("c", "3"), get("c"), get("a"), get("zz"), del("b")},
			wantOK: true,
			wantResult: []rpc.TxnResult{
				{Verb: rpc.TxnSet, Entry: ent("c", "3", 3, 3)},
				{Verb: rpc.TxnGet, Entry: ent("c", "3", 3, 3)},
				{Verb: rpc.TxnGet, Entry: ent("a", "1", 1, 1)},
				{Verb: rpc.TxnGet},
				{Verb: rpc.TxnDelete},
			},
			wantKeys: map[string]*rpc.KVEntry{"c": ent("c", "3", 3, 3), "b": nil, "a": ent("a", "1", 1, 1)},
		},
		{
			name: "cas, delete-cas, checks that hold",
			ops: []rpc.TxnOp{
				{Verb: rpc.TxnCAS, Key: "a", Value: []byte("A"), Flags: 9, Index: 1},
				{Verb: rpc.TxnCAS, Key: "new", Value: []byte("N"), Index: 0},
				opIdx(rpc.TxnCheckIndex, "a", 3), // as the cas above left it
				opIdx(rpc.TxnDeleteCAS, "b", 2),
				opIdx(rpc.TxnDeleteCAS, "never", 5), // absent: nothing to delete
				opIdx(rpc.TxnCheckNotExists, "b", 0),
			},
			wantOK: true,
			wantResult: []rpc.TxnResult{
				{Verb: rpc.TxnCAS, Entry: &rpc.KVEntry{Key: "a", Value: []byte("A"), Flags: 9, CreateIndex: 1, ModifyIndex: 3}},
				{Verb: rpc.TxnCAS, Entry: ent("new", "N", 3, 3)},
				{Verb: rpc.TxnCheckIndex, Entry: &rpc.KVEntry{Key: "a", Value: []byte("A"), Flags: 9, CreateIndex: 1, ModifyIndex: 3}},
				{Verb: rpc.TxnDeleteCAS},
				{Verb: rpc.TxnDeleteCAS},
				{Verb: rpc.TxnCheckNotExists},
			},
			wantKeys: map[string]*rpc.KVEntry{
				"a":   {Key: "a", Value: []byte("A"), Flags: 9, CreateIndex: 1, ModifyIndex: 3},
				"new": ent("new", "N", 3, 3), "b": nil, "never": nil,
			},
		},
		{
			name: "one failing op aborts all",
			ops:  []rpc.TxnOp{set("c", "3"), del("a"), opIdx(rpc.TxnCheckIndex, "b", 5), set("b", "x")},
			wantErrors: []rpc.TxnError{
				{OpIndex: 2, What: `key "b" modify index is 2, not 5`},
			},
			wantKeys: map[string]*rpc.KVEntry{"c": nil, "a": ent("a", "1", 1, 1), "b": ent("b", "2", 2, 2)},
		},
		{
			name: "every failing op is named",
			ops: []rpc.TxnOp{
				opIdx(rpc.TxnCAS, "a", 7),
				opIdx(rpc.TxnCAS, "a", 0),
				opIdx(rpc.TxnCAS, "zz", 4),
				opIdx(rpc.TxnCheckIndex, "zz", 1),
				opIdx(rpc.TxnCheckIndex, "zz", 0),
				opIdx(rpc.TxnCheckNotExists, "b", 0),
				opIdx(rpc.TxnDeleteCAS, "b", 9),
				opIdx(rpc.TxnDeleteCAS, "b", 0),
				{Verb: "frob", Key: "a"},
				{Verb: "", Key: "a"},
				set("/lead", "x"),
				get(""),
				set("fine", "x"),
			},
			wantErrors: []rpc.TxnError{
				{OpIndex: 0, What: `key "a" modify index is 1, not 7`},
				{OpIndex: 1, What: `key "a" exists`},
				{OpIndex: 2, What: `key "zz" does not exist`},
				{OpIndex: 3, What: `key "zz" does not exist`},
				{OpIndex: 4, What: `key "zz" does not exist`},
				{OpIndex: 5, What: `key "b" exists`},
				{OpIndex: 6, What: `key "b" modify index is 2, not 9`},
				{OpIndex: 7, What: `key "b" exists`},
				{OpIndex: 8, What: `unknown verb "frob"`},
				{OpIndex: 9, What: `unknown verb ""`},
				{OpIndex: 10, What: `kv: invalid key: leading '/'`},
				{OpIndex: 11, What: `kv: invalid key: empty`},
			},
			wantKeys: map[string]*rpc.KVEntry{"fine": nil, "a": ent("a", "1", 1, 1)},
		},
		{
			name: "ops see earlier ops",
			ops: []rpc.TxnOp{
				del("a"),
				opIdx(rpc.TxnCheckNotExists, "a", 0),
				set("a", "again"), // re-created: a new create index
				opIdx(rpc.TxnCheckIndex, "a", 3),
				set("tmp", "x"),
				del("tmp"), // created and deleted: leaves no trace
			},
			wantOK: true,
			wantResult: []rpc.TxnResult{
				{Verb: rpc.TxnDelete},
				{Verb: rpc.TxnCheckNotExists},
				{Verb: rpc.TxnSet, Entry: ent("a", "again", 3, 3)},
				{Verb: rpc.TxnCheckIndex, Entry: ent("a", "again", 3, 3)},
				{Verb: rpc.TxnSet, Entry: ent("tmp", "x", 3, 3)},
				{Verb: rpc.TxnDelete},
			},
			wantKeys: map[string]*rpc.KVEntry{"a": ent("a", "again", 3, 3), "tmp": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustOK(putCmd("a", "1"), putCmd("b", "2"))
			before := h.snapshot()
			r := h.apply(txnCmd(tt.ops...))
			if r.Err != "" || r.Txn == nil {
				t.Fatalf("result %+v", r)
			}
			want := &rpc.KVTxnResult{OK: tt.wantOK, Results: tt.wantResult, Errors: tt.wantErrors, Index: 3}
			if r.OK != tt.wantOK || !reflect.DeepEqual(r.Txn, want) {
				t.Fatalf("result OK=%v\n got %+v\nwant %+v", r.OK, r.Txn, want)
			}
			v := h.m.View()
			for k, w := range tt.wantKeys {
				if got, _, _ := v.Get(k); !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %+v, want %+v", k, got, w)
				}
			}
			if !tt.wantOK {
				assertSameState(t, before, v)
			}
			// The result survives the trip to the proposer.
			val, data := r.Encode()
			back, err := DecodeResult(val, data)
			if err != nil || !reflect.DeepEqual(back, r) {
				t.Errorf("DecodeResult = %+v, %v; want %+v", back, err, r)
			}
		})
	}
}

// assertSameState checks that v holds the entries and tombstones of the
// snapshot before (its applied index may differ).
func assertSameState(t *testing.T, before []byte, v *View) {
	t.Helper()
	m, err := restored(before)
	if err != nil {
		t.Fatal(err)
	}
	e1, t1 := dump(m.View())
	e2, t2 := dump(v)
	if !reflect.DeepEqual(e1, e2) || !reflect.DeepEqual(t1, t2) || m.View().floor != v.floor {
		t.Errorf("state changed:\n entries %v\n     now %v\n tombs %v\n   now %v", e1, e2, t1, t2)
	}
}

// A failed transaction in the middle of a batch leaves the entries before
// and after it in place, and changes nothing itself.
func TestTxnAtomicMidBatch(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putCmd("x", "0"), putCmd("doomed", "d"))
	_, _, watch := h.m.View().Get("doomed")
	rs := h.batch(
		putCmd("x", "1"),          // 3
		delCmd("doomed"),          // 4
		putCmd("doomed", "again"), // 5
		txnCmd(set("t1", "a"), del("x"), del("doomed"), opIdx(rpc.TxnCheckIndex, "x", 1)), // 6: fails
		putCmd("y", "2"), // 7
	)
	if rs[3].OK || rs[3].Txn.OK || len(rs[3].Txn.Errors) != 1 || rs[3].Txn.Errors[0].OpIndex != 3 {
		t.Fatalf("txn result %+v", rs[3].Txn)
	}
	v := h.m.View()
	for key, want := range map[string]*rpc.KVEntry{
		"x":      ent("x", "1", 1, 3),
		"doomed": ent("doomed", "again", 5, 5),
		"y":      ent("y", "2", 7, 7),
		"t1":     nil,
	} {
		if got, _, _ := v.Get(key); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %+v, want %+v", key, got, want)
		}
	}
	if v.tombs.Len() != 0 {
		t.Errorf("%d tombstones, want 0 (doomed was re-created)", v.tombs.Len())
	}
	if !closed(watch) {
		t.Error("watch on doomed not closed")
	}
	if v.Index() != 7 {
		t.Errorf("Index %d, want 7", v.Index())
	}
}

func TestTxnMaxOps(t *testing.T) {
	ops := make([]rpc.TxnOp, rpc.MaxTxnOps)
	for i := range ops {
		ops[i] = set(string(rune('a'+i%26))+"/"+string(rune('0'+i/26)), "v")
	}
	h := newHarness(t)
	r := h.apply(txnCmd(ops...))
	if !r.OK || len(r.Txn.Results) != rpc.MaxTxnOps || h.m.View().Len() != rpc.MaxTxnOps {
		t.Fatalf("result OK=%v, %d results, %d keys", r.OK, len(r.Txn.Results), h.m.View().Len())
	}
}
