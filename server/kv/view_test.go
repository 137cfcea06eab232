package kv

import (
	"fmt"
	"reflect"
	"testing"
)

func TestList(t *testing.T) {
	keys := []string{"a", "a/", "a/1", "a/2", "a/b/1", "a/b/2", "a/b/c/3", "a/c/", "a/d/x", "ab", "b/1"}
	// Put at indexes 1..len(keys), in this order.
	index := func(k string) uint64 {
		for i, x := range keys {
			if x == k {
				return uint64(i + 1)
			}
		}
		panic(k)
	}
	tests := []struct {
		name      string
		prefix    string
		keysOnly  bool
		sep       string
		wantEnt   []string // keys of the entries
		wantKeys  []string
		wantIndex uint64
	}{
		{name: "all entries", prefix: "", wantEnt: keys, wantIndex: 11},
		{name: "prefix entries", prefix: "a/", wantEnt: []string{"a/", "a/1", "a/2", "a/b/1", "a/b/2", "a/b/c/3", "a/c/", "a/d/x"}, wantIndex: 9},
		{name: "prefix keys", prefix: "a/b", keysOnly: true, wantKeys: []string{"a/b/1", "a/b/2", "a/b/c/3"}, wantIndex: 7},
		{name: "byte prefix crosses segments", prefix: "a", keysOnly: true,
			wantKeys: []string{"a", "a/", "a/1", "a/2", "a/b/1", "a/b/2", "a/b/c/3", "a/c/", "a/d/x", "ab"}, wantIndex: 10},
		{name: "separator keys only", prefix: "a/", keysOnly: true, sep: "/",
			wantKeys: []string{"a/", "a/1", "a/2", "a/b/", "a/c/", "a/d/"}, wantIndex: 9},
		{name: "separator entries and folders", prefix: "a/", sep: "/",
			wantEnt:  []string{"a/", "a/1", "a/2"},
			wantKeys: []string{"a/b/", "a/c/", "a/d/"}, wantIndex: 9},
		{name: "separator from root", prefix: "", keysOnly: true, sep: "/",
			wantKeys: []string{"a", "a/", "ab", "b/"}, wantIndex: 11},
		{name: "separator one level down", prefix: "a/b/", keysOnly: true, sep: "/",
			wantKeys: []string{"a/b/1", "a/b/2", "a/b/c/"}, wantIndex: 7},
		{name: "multi-byte separator", prefix: "a", keysOnly: true, sep: "b/",
			wantKeys: []string{"a", "a/", "a/1", "a/2", "a/b/", "a/c/", "a/d/x", "ab"}, wantIndex: 10},
		{name: "nothing under prefix", prefix: "zz", wantIndex: 1},
		{name: "exact key is its own prefix", prefix: "a/d/x", wantEnt: []string{"a/d/x"}, wantIndex: 9},
	}
	h := newHarness(t)
	for _, k := range keys {
		h.mustOK(putCmd(k, "v:"+k))
	}
	v := h.m.View()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ents, gotKeys, idx, watch := v.List(tt.prefix, tt.keysOnly, tt.sep)
			var gotEnt []string
			for _, e := range ents {
				gotEnt = append(gotEnt, e.Key)
				if string(e.Value) != "v:"+e.Key || e.ModifyIndex != index(e.Key) {
					t.Errorf("entry %+v", e)
				}
			}
			if !reflect.DeepEqual(gotEnt, tt.wantEnt) {
				t.Errorf("entries %q, want %q", gotEnt, tt.wantEnt)
			}
			if !reflect.DeepEqual(gotKeys, tt.wantKeys) {
				t.Errorf("keys %q, want %q", gotKeys, tt.wantKeys)
			}
			if idx != tt.wantIndex {
				t.Errorf("index %d, want %d", idx, tt.wantIndex)
			}
			if watch == nil {
				t.Error("nil watch")
			}
		})
	}
}

func TestIndexes(t *testing.T) {
	type probe struct {
		get   string // a key, or
		list  string // a prefix
		index uint64
	}
	tests := []struct {
		name   string
		cmds   [][]byte // at 1, 2, ...
		probes []probe
		tombs  int
		floor  uint64
	}{
		{
			name:   "empty shard reports 1, never 0",
			probes: []probe{{get: "a", index: 1}, {list: "", index: 1}},
		},
		{
			name: "modify index",
			cmds: [][]byte{putCmd("a/x", "1"), putCmd("b", "2"), putCmd("a/x", "3")},
			probes: []probe{{get: "a/x", index: 3}, {get: "b", index: 2}, {get: "c", index: 1},
				{list: "a/", index: 3}, {list: "b", index: 2}, {list: "", index: 3}},
		},
		{
			name: "deletion leaves a tombstone",
			cmds: [][]byte{putCmd("a/x", "1"), putCmd("a/y", "2"), putCmd("b", "3"), delCmd("a/x")},
			probes: []probe{{get: "a/x", index: 4}, {list: "a/", index: 4}, {list: "a/y", index: 2},
				{list: "", index: 4}, {get: "b", index: 3}},
			tombs: 1,
		},
		{
			name:   "delete of a missing key changes nothing",
			cmds:   [][]byte{putCmd("a", "1"), delCmd("zz")},
			probes: []probe{{get: "zz", index: 1}, {list: "", index: 1}},
		},
		{
			name:   "re-creation drops the tombstone",
			cmds:   [][]byte{putCmd("a", "1"), delCmd("a"), putCmd("a", "2")},
			probes: []probe{{get: "a", index: 3}},
		},
		{
			name:   "failed CAS changes no index",
			cmds:   [][]byte{putCmd("a", "1"), casCmd("a", "2", 9), delCASCmd("a", 9)},
			probes: []probe{{get: "a", index: 1}, {list: "", index: 1}},
		},
		{
			name: "delete-tree tombstones every key",
			cmds: [][]byte{putCmd("a/1", "1"), putCmd("a/2", "2"), putCmd("b", "3"), treeCmd("a/")},
			probes: []probe{{get: "a/1", index: 4}, {get: "a/2", index: 4}, {list: "a/", index: 4},
				{list: "b", index: 3}},
			tombs: 2,
		},
		{
			name: "txn deletes leave tombstones",
			cmds: [][]byte{putCmd("a", "1"), putCmd("b", "2"),
				txnCmd(del("a"), set("c", "x"), del("c"), opIdx("delete-cas", "b", 2))},
			probes: []probe{{get: "a", index: 3}, {get: "b", index: 3}, {get: "c", index: 1}},
			tombs:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for _, c := range tt.cmds {
				if r := h.apply(c); r.Err != "" {
					t.Fatal(r.Err)
				}
			}
			v := h.m.View()
			for _, p := range tt.probes {
				var idx uint64
				if p.list != "" || p.get == "" {
					_, _, idx, _ = v.List(p.list, true, "")
				} else {
					_, idx, _ = v.Get(p.get)
				}
				if idx != p.index {
					t.Errorf("%+v: index %d", p, idx)
				}
			}
			if v.tombs.Len() != tt.tombs || v.floor != tt.floor {
				t.Errorf("%d tombstones, floor %d; want %d, %d", v.tombs.Len(), v.floor, tt.tombs, tt.floor)
			}
		})
	}
}

func TestTombstoneFloor(t *testing.T) {
	t.Run("one delete too many drops all", func(t *testing.T) {
		h := newHarness(t)
		var cmds [][]byte
		for i := range TombstoneLimit + 1 {
			cmds = append(cmds, putCmd(fmt.Sprintf("k/%05d", i), "v"))
		}
		h.batch(cmds...) // 1..limit+1
		h.mustOK(putCmd("live", "v"))
		cmds = cmds[:0]
		for i := range TombstoneLimit {
			cmds = append(cmds, delCmd(fmt.Sprintf("k/%05d", i)))
		}
		h.batch(cmds...)
		v := h.m.View()
		last := v.Index()
		if v.tombs.Len() != TombstoneLimit || v.floor != 0 {
			t.Fatalf("at the limit: %d tombstones, floor %d", v.tombs.Len(), v.floor)
		}
		_, liveIdx, _ := v.Get("live")
		h.mustOK(delCmd(fmt.Sprintf("k/%05d", TombstoneLimit)))
		v = h.m.View()
		if v.tombs.Len() != 0 || v.floor != last+1 {
			t.Fatalf("past the limit: %d tombstones, floor %d, want 0 and %d", v.tombs.Len(), v.floor, last+1)
		}
		for _, k := range []string{"k/00000", "never", "live"} {
			if _, idx, _ := v.Get(k); idx != last+1 {
				t.Errorf("Get(%q) index %d, want the floor %d", k, idx, last+1)
			}
		}
		if liveIdx >= last+1 {
			t.Errorf("live index %d was already at the floor", liveIdx)
		}
		// New tombstones count from zero again, above the floor.
		h.mustOK(delCmd("live"))
		if _, idx, _ := h.m.View().Get("live"); idx != last+2 {
			t.Errorf("live index %d, want %d", idx, last+2)
		}
	})
	t.Run("big delete-tree goes straight to the floor", func(t *testing.T) {
		h := newHarness(t)
		h.mustOK(putCmd("x", "1"), delCmd("x")) // one tombstone at 2
		var cmds [][]byte
		for i := range TombstoneLimit {
			cmds = append(cmds, putCmd(fmt.Sprintf("k/%05d", i), "v"))
		}
		h.batch(cmds...)
		if r := h.apply(treeCmd("k/")); !r.OK {
			t.Fatal(r)
		}
		v := h.m.View()
		if v.Len() != 0 || v.tombs.Len() != 0 || v.floor != v.Index() {
			t.Fatalf("Len %d, %d tombstones, floor %d, index %d", v.Len(), v.tombs.Len(), v.floor, v.Index())
		}
	})
	t.Run("delete-tree at the limit keeps tombstones", func(t *testing.T) {
		h := newHarness(t)
		var cmds [][]byte
		for i := range TombstoneLimit {
			cmds = append(cmds, putCmd(fmt.Sprintf("k/%05d", i), "v"))
		}
		h.batch(cmds...)
		h.mustOK(treeCmd("k/"))
		if v := h.m.View(); v.tombs.Len() != TombstoneLimit || v.floor != 0 {
			t.Fatalf("%d tombstones, floor %d", v.tombs.Len(), v.floor)
		}
	})
}
