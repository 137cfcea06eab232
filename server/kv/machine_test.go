package kv

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"meridian/rpc"
)

func TestApply(t *testing.T) {
	type want struct {
		key   string
		entry *rpc.KVEntry // nil: absent
	}
	tests := []struct {
		name   string
		cmds   [][]byte // applied at indexes 1, 2, ...
		okAll  bool     // every result OK without Err
		wantOK []bool   // when !okAll: OK of each result
		gets   []want
		keys   int
	}{
		{
			name:  "put creates",
			cmds:  [][]byte{putFlagsCmd("a/b", "v1", 42)},
			okAll: true,
			gets: []want{{"a/b", &rpc.KVEntry{Key: "a/b", Value: []byte("v1"), Flags: 42,
				CreateIndex: 1, ModifyIndex: 1}}},
			keys: 1,
		},
		{
			name:  "put overwrites, keeps create index",
			cmds:  [][]byte{putFlagsCmd("a", "v1", 1), putCmd("b", "x"), putFlagsCmd("a", "v2", 7)},
			okAll: true,
			gets: []want{{"a", &rpc.KVEntry{Key: "a", Value: []byte("v2"), Flags: 7,
				CreateIndex: 1, ModifyIndex: 3}}},
			keys: 2,
		},
		{
			name:  "empty value",
			cmds:  [][]byte{putCmd("a", "")},
			okAll: true,
			gets:  []want{{"a", &rpc.KVEntry{Key: "a", CreateIndex: 1, ModifyIndex: 1}}},
			keys:  1,
		},
		{
			name:  "delete existing",
			cmds:  [][]byte{putCmd("a", "1"), putCmd("b", "2"), delCmd("a")},
			okAll: true,
			gets:  []want{{"a", nil}, {"b", &rpc.KVEntry{Key: "b", Value: []byte("2"), CreateIndex: 2, ModifyIndex: 2}}},
			keys:  1,
		},
		{
			name:  "delete missing is ok",
			cmds:  [][]byte{delCmd("nope")},
			okAll: true,
			gets:  []want{{"nope", nil}},
		},
		{
			name: "delete-tree prefix",
			cmds: [][]byte{putCmd("a/1", "1"), putCmd("a/2/x", "2"), putCmd("ab", "3"),
				putCmd("b/1", "4"), treeCmd("a/")},
			okAll: true,
			gets: []want{{"a/1", nil}, {"a/2/x", nil},
				{"ab", &rpc.KVEntry{Key: "ab", Value: []byte("3"), CreateIndex: 3, ModifyIndex: 3}}},
			keys: 2,
		},
		{
			name:  "delete-tree partial-segment prefix",
			cmds:  [][]byte{putCmd("app1", "1"), putCmd("app2/x", "2"), putCmd("b", "3"), treeCmd("app")},
			okAll: true,
			gets:  []want{{"app1", nil}, {"app2/x", nil}},
			keys:  1,
		},
		{
			name:  "delete-tree empty prefix clears shard",
			cmds:  [][]byte{putCmd("a", "1"), putCmd("b/c", "2"), treeCmd("")},
			okAll: true,
			gets:  []want{{"a", nil}, {"b/c", nil}},
		},
		{
			name:  "delete-tree of nothing is ok",
			cmds:  [][]byte{putCmd("a", "1"), treeCmd("zzz")},
			okAll: true,
			keys:  1,
		},
		{
			name: "keys are bytes, not segments",
			cmds: [][]byte{putCmd("a", "1"), putCmd("a/", "2"), putCmd("a/b", "3"),
				putCmd("日本/語", "4"), delCmd("a/")},
			okAll: true,
			gets: []want{{"a", &rpc.KVEntry{Key: "a", Value: []byte("1"), CreateIndex: 1, ModifyIndex: 1}},
				{"a/", nil},
				{"日本/語", &rpc.KVEntry{Key: "日本/語", Value: []byte("4"), CreateIndex: 4, ModifyIndex: 4}}},
			keys: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for i, c := range tt.cmds {
				r := h.apply(c)
				if r.Err != "" {
					t.Fatalf("cmd %d: Err %q", i, r.Err)
				}
				if tt.okAll && !r.OK {
					t.Fatalf("cmd %d: not OK", i)
				}
				if !tt.okAll && r.OK != tt.wantOK[i] {
					t.Fatalf("cmd %d: OK %v, want %v", i, r.OK, tt.wantOK[i])
				}
			}
			v := h.m.View()
			if v.Index() != uint64(len(tt.cmds)) {
				t.Errorf("Index() = %d, want %d", v.Index(), len(tt.cmds))
			}
			if v.Len() != tt.keys {
				t.Errorf("Len() = %d, want %d", v.Len(), tt.keys)
			}
			for _, w := range tt.gets {
				got, _, _ := v.Get(w.key)
				if !reflect.DeepEqual(got, w.entry) {
					t.Errorf("Get(%q) = %+v, want %+v", w.key, got, w.entry)
				}
			}
		})
	}
}

func TestApplyMalformed(t *testing.T) {
	tests := []struct {
		name    string
		cmd     []byte
		wantErr string
	}{
		{"garbage", []byte{0xff, 0x01}, "kv: malformed command: unknown version 255 (want 1)"},
		{"empty", nil, "kv: malformed command: truncated version at byte 0"},
		{"put empty key", putCmd("", "v"), "kv: invalid key: empty"},
		{"put leading slash", putCmd("/a", "v"), "kv: invalid key: leading '/'"},
		{"delete NUL", delCmd("a\x00"), "kv: invalid key: NUL byte at offset 1"},
		{"delete-tree with cas", (&Command{Op: OpDeleteTree, Key: "a", HasCAS: true}).Marshal(),
			"kv: malformed command: delete-tree takes no cas index"},
		{"txn too big", txnCmd(make([]rpc.TxnOp, rpc.MaxTxnOps+1)...),
			"kv: malformed command: txn has 129 ops, max 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustOK(putCmd("a", "1"), putCmd("b/c", "2"))
			before := h.snapshot()
			r := h.apply(tt.cmd)
			if r.OK || r.Err != tt.wantErr || r.Txn != nil {
				t.Fatalf("result %+v, want Err %q", r, tt.wantErr)
			}
			if h.m.View().Index() != 3 {
				t.Errorf("applied index %d, want 3 (a malformed entry is still applied)", h.m.View().Index())
			}
			// Nothing but the applied index changed: replay the state at 3.
			after, err := restored(before)
			if err != nil {
				t.Fatal(err)
			}
			a1, t1 := dump(after.View())
			a2, t2 := dump(h.m.View())
			if !reflect.DeepEqual(a1, a2) || !reflect.DeepEqual(t1, t2) {
				t.Errorf("state changed")
			}
		})
	}
}

func restored(snap []byte) (*Machine, error) {
	m := New()
	err := m.RestoreSnapshot(strings.NewReader(string(snap)))
	return m, err
}

func TestApplyIndexOrder(t *testing.T) {
	m := New()
	b := m.Begin()
	if r := b.Apply(5, putCmd("a", "1")); !r.OK {
		t.Fatalf("%+v", r)
	}
	for _, idx := range []uint64{5, 4, 0} {
		r := b.Apply(idx, putCmd("b", "1"))
		if r.OK || !strings.Contains(r.Err, "does not follow applied index 5") {
			t.Errorf("Apply(%d) = %+v, want refusal", idx, r)
		}
	}
	b.Commit()
	v := m.View()
	if v.Index() != 5 || v.Len() != 1 {
		t.Errorf("Index %d Len %d, want 5 and 1", v.Index(), v.Len())
	}
}

func TestCAS(t *testing.T) {
	// Every case starts from: "k" put at index 1, "gone" put at 2 and
	// deleted at 3. The case's command runs at index 4.
	tests := []struct {
		name      string
		cmd       []byte
		wantOK    bool
		wantEntry *rpc.KVEntry // "k" after the command
	}{
		{"put cas 0 on absent key", casCmd("new", "v", 0), true, kEntry},
		{"put cas 0 on deleted key", casCmd("gone", "v", 0), true, kEntry},
		{"put cas 0 on present key", casCmd("k", "v", 0), false, kEntry},
		{"put cas match", casCmd("k", "v2", 1), true,
			&rpc.KVEntry{Key: "k", Value: []byte("v2"), CreateIndex: 1, ModifyIndex: 4}},
		{"put cas mismatch", casCmd("k", "v2", 2), false, kEntry},
		{"put cas nonzero on absent key", casCmd("new", "v", 1), false, kEntry},
		{"delete cas match", delCASCmd("k", 1), true, nil},
		{"delete cas mismatch", delCASCmd("k", 3), false, kEntry},
		{"delete cas 0 on present key", delCASCmd("k", 0), false, kEntry},
		{"delete cas 0 on absent key", delCASCmd("new", 0), true, kEntry},
		{"delete cas nonzero on absent key", delCASCmd("gone", 2), true, kEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustOK(putCmd("k", "v"), putCmd("gone", "x"), delCmd("gone"))
			_, goneIdx, _ := h.m.View().Get("gone")
			r := h.apply(tt.cmd)
			if r.Err != "" || r.OK != tt.wantOK || r.Index != 4 {
				t.Fatalf("result %+v, want OK=%v at 4", r, tt.wantOK)
			}
			v := h.m.View()
			got, _, _ := v.Get("k")
			if !reflect.DeepEqual(got, tt.wantEntry) {
				t.Errorf("k = %+v, want %+v", got, tt.wantEntry)
			}
			if !tt.wantOK {
				// A failed CAS changes nothing: "new" absent, "gone"'s
				// tombstone and index as they were.
				if e, _, _ := v.Get("new"); e != nil {
					t.Errorf("new = %+v after failed CAS", e)
				}
				if _, idx, _ := v.Get("gone"); idx != goneIdx {
					t.Errorf("gone index %d, want %d", idx, goneIdx)
				}
			}
		})
	}
}

var kEntry = &rpc.KVEntry{Key: "k", Value: []byte("v"), CreateIndex: 1, ModifyIndex: 1}

func TestBatchVisibility(t *testing.T) {
	m := New()
	b := m.Begin()
	b.Apply(1, putCmd("a", "1"))
	b.Apply(2, putCmd("b", "2"))
	if v := m.View(); v.Len() != 0 || v.Index() != 0 {
		t.Fatalf("uncommitted batch visible: Len %d Index %d", v.Len(), v.Index())
	}
	_, _, _, w := m.View().List("", false, "")
	b.Commit()
	if !closed(w) {
		t.Error("watch not closed by Commit")
	}
	if v := m.View(); v.Len() != 2 || v.Index() != 2 {
		t.Fatalf("after Commit: Len %d Index %d", v.Len(), v.Index())
	}
}

func TestBatchMisuse(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	m := New()
	b := m.Begin()
	b.Apply(1, putCmd("a", "1"))
	b.Commit()
	mustPanic("Apply after Commit", func() { b.Apply(2, putCmd("a", "1")) })
	mustPanic("Commit twice", func() { b.Commit() })

	b1, b2 := m.Begin(), m.Begin()
	b1.Apply(2, putCmd("a", "1"))
	b2.Apply(2, putCmd("b", "1"))
	b1.Commit()
	mustPanic("concurrent writers", func() { b2.Commit() })
	if e, _, _ := m.View().Get("b"); e != nil {
		t.Error("lost batch published")
	}
}

func TestEmptyBatch(t *testing.T) {
	m := New()
	v := m.View()
	m.Begin().Commit()
	if m.View() != v {
		t.Error("empty batch published a new View")
	}
}

func TestErrorsAre(t *testing.T) {
	_, err := UnmarshalCommand([]byte{1})
	if !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("%v is not ErrMalformedCommand", err)
	}
}
