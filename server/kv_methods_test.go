package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/rpc"
	"meridian/server/servertest"
)

func u64(v uint64) *uint64 { return &v }

func put(t *testing.T, c *servertest.Cluster, key, value string) rpc.KVPutResult {
	t.Helper()
	var res rpc.KVPutResult
	c.Call(t, 0, rpc.MethodKVPut, rpc.KVPutParams{Key: key, Value: []byte(value)}, &res)
	if !res.OK || res.Index == 0 {
		t.Fatalf("put %q: %+v", key, res)
	}
	return res
}

func get(t *testing.T, c *servertest.Cluster, key string) rpc.KVGetResult {
	t.Helper()
	var res rpc.KVGetResult
	c.Call(t, 0, rpc.MethodKVGet, rpc.KVGetParams{Key: key}, &res)
	return res
}

func TestKVRoundTrip(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	p := put(t, c, "app/web/config", "v1")
	g := get(t, c, "app/web/config")
	if g.Entry == nil || string(g.Entry.Value) != "v1" {
		t.Fatalf("get after put: %+v", g)
	}
	if g.Entry.CreateIndex != p.Index || g.Entry.ModifyIndex != p.Index || g.Index != p.Index {
		t.Fatalf("indexes: put at %d, entry %+v, answer index %d", p.Index, g.Entry, g.Index)
	}
	p2 := put(t, c, "app/web/config", "v2")
	g = get(t, c, "app/web/config")
	if g.Entry.CreateIndex != p.Index || g.Entry.ModifyIndex != p2.Index {
		t.Fatalf("after update: %+v, want create %d modify %d", g.Entry, p.Index, p2.Index)
	}

	var none rpc.KVGetResult
	c.Call(t, 0, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/missing"}, &none)
	if none.Entry != nil || none.Index == 0 {
		t.Fatalf("missing key: %+v (want no entry and a non-zero index)", none)
	}

	var del rpc.KVDeleteResult
	c.Call(t, 0, rpc.MethodKVDelete, rpc.KVDeleteParams{Key: "app/web/config"}, &del)
	if !del.OK {
		t.Fatalf("delete: %+v", del)
	}
	if g := get(t, c, "app/web/config"); g.Entry != nil || g.Index != del.Index {
		t.Fatalf("after delete: %+v, want no entry at index %d", g, del.Index)
	}
}

func TestKVCAS(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	cases := []struct {
		name   string
		cas    func(last uint64) *uint64
		wantOK bool
	}{
		{"absent only, key absent", func(uint64) *uint64 { return u64(0) }, true},
		{"absent only, key exists", func(uint64) *uint64 { return u64(0) }, false},
		{"right index", func(last uint64) *uint64 { return u64(last) }, true},
		{"stale index", func(last uint64) *uint64 { return u64(last - 1) }, false},
	}
	var last uint64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res rpc.KVPutResult
			c.Call(t, 0, rpc.MethodKVPut, rpc.KVPutParams{Key: "cas/k", Value: []byte(tc.name), CAS: tc.cas(last)}, &res)
			if res.OK != tc.wantOK {
				t.Fatalf("ok = %v, want %v", res.OK, tc.wantOK)
			}
			g := get(t, c, "cas/k")
			if tc.wantOK {
				last = res.Index
				if string(g.Entry.Value) != tc.name {
					t.Fatalf("value %q, want %q", g.Entry.Value, tc.name)
				}
			} else if g.Entry.ModifyIndex != last {
				t.Fatalf("a failed CAS changed the key: %+v", g.Entry)
			}
		})
	}
}

func TestKVListAcrossShards(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	keys := []string{"a/1", "a/2", "a/sub/3", "b/1", "c/x/y", "d"}
	for _, k := range keys {
		put(t, c, k, "v-"+k)
	}
	cases := []struct {
		name   string
		params rpc.KVListParams
		want   []string
	}{
		{"root, every shard", rpc.KVListParams{Prefix: "", KeysOnly: true}, keys},
		{"one folder", rpc.KVListParams{Prefix: "a/", KeysOnly: true}, []string{"a/1", "a/2", "a/sub/3"}},
		{"partial first segment spans shards", rpc.KVListParams{Prefix: "", KeysOnly: true, Separator: "/"}, []string{"a/", "b/", "c/", "d"}},
		{"one level", rpc.KVListParams{Prefix: "a/", KeysOnly: true, Separator: "/"}, []string{"a/1", "a/2", "a/sub/"}},
		{"nothing", rpc.KVListParams{Prefix: "zzz/", KeysOnly: true}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res rpc.KVListResult
			c.Call(t, 0, rpc.MethodKVList, tc.params, &res)
			if strings.Join(res.Keys, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("keys %q, want %q", res.Keys, tc.want)
			}
		})
	}
	var res rpc.KVListResult
	c.Call(t, 0, rpc.MethodKVList, rpc.KVListParams{Prefix: "a/"}, &res)
	if len(res.Entries) != 3 || string(res.Entries[2].Value) != "v-a/sub/3" {
		t.Fatalf("entries: %+v", res.Entries)
	}

	var del rpc.KVDeleteResult
	c.Call(t, 0, rpc.MethodKVDelete, rpc.KVDeleteParams{Key: "", Recurse: true}, &del)
	c.Call(t, 0, rpc.MethodKVList, rpc.KVListParams{KeysOnly: true}, &res)
	if !del.OK || len(res.Keys) != 0 {
		t.Fatalf("after recursive delete of everything: %+v, keys %q", del, res.Keys)
	}
}

func TestKVTxn(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	first := put(t, c, "acct/alice", "100")
	var ok rpc.KVTxnResult
	c.Call(t, 0, rpc.MethodKVTxn, rpc.KVTxnParams{Ops: []rpc.TxnOp{
		{Verb: rpc.TxnCheckIndex, Key: "acct/alice", Index: first.Index},
		{Verb: rpc.TxnSet, Key: "acct/alice", Value: []byte("50")},
		{Verb: rpc.TxnSet, Key: "acct/bob", Value: []byte("50")},
		{Verb: rpc.TxnGet, Key: "acct/bob"},
	}}, &ok)
	if !ok.OK || len(ok.Results) != 4 || ok.Results[3].Entry == nil || string(ok.Results[3].Entry.Value) != "50" {
		t.Fatalf("txn: %+v", ok)
	}

	var failed rpc.KVTxnResult
	c.Call(t, 0, rpc.MethodKVTxn, rpc.KVTxnParams{Ops: []rpc.TxnOp{
		{Verb: rpc.TxnSet, Key: "acct/alice", Value: []byte("0")},
		{Verb: rpc.TxnCheckNotExists, Key: "acct/bob"},
	}}, &failed)
	if failed.OK || len(failed.Errors) != 1 || failed.Errors[0].OpIndex != 1 {
		t.Fatalf("failing txn: %+v", failed)
	}
	if g := get(t, c, "acct/alice"); string(g.Entry.Value) != "50" {
		t.Fatalf("a failed txn changed acct/alice to %q", g.Entry.Value)
	}
}

// TestBadInput: every kind of bad request gets -32602 naming what is wrong,
// and none of them changes what is stored.
func TestBadInput(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	put(t, c, "keep/me", "safe")
	before := get(t, c, "keep/me")

	var spread []rpc.TxnOp
	for _, k := range []string{"aa/1", "bb/1", "cc/1", "dd/1", "ee/1", "ff/1"} {
		spread = append(spread, rpc.TxnOp{Verb: rpc.TxnSet, Key: k, Value: []byte("x")})
	}
	tooMany := make([]rpc.TxnOp, rpc.MaxTxnOps+1)
	for i := range tooMany {
		tooMany[i] = rpc.TxnOp{Verb: rpc.TxnSet, Key: fmt.Sprintf("keep/%d", i)}
	}
	cases := []struct {
		name   string
		method string
		params any
		want   string // in the message
	}{
		{"empty key", rpc.MethodKVPut, map[string]any{"key": "", "value": "eA=="}, `"key"`},
		{"leading slash", rpc.MethodKVPut, map[string]any{"key": "/keep/me", "value": "eA=="}, "/"},
		{"key too long", rpc.MethodKVPut, map[string]any{"key": "keep/" + strings.Repeat("k", 1024), "value": "eA=="}, "1024"},
		{"value too large", rpc.MethodKVPut, rpc.KVPutParams{Key: "keep/me", Value: make([]byte, 512<<10+1)}, "524288"},
		{"value not base64", rpc.MethodKVPut, map[string]any{"key": "keep/me", "value": "not base64!"}, "value"},
		{"flags wrong type", rpc.MethodKVPut, map[string]any{"key": "keep/me", "value": "eA==", "flags": "one"}, "flags"},
		{"unknown field", rpc.MethodKVPut, map[string]any{"key": "keep/me", "valu": "eA=="}, "valu"},
		{"bad consistency", rpc.MethodKVGet, map[string]any{"key": "keep/me", "consistency": "strong"}, "consistency"},
		{"bad wait", rpc.MethodKVGet, map[string]any{"key": "keep/me", "index": 1, "wait": "soon"}, "wait"},
		{"timeout over max", rpc.MethodKVPut, map[string]any{"key": "keep/me", "value": "eA==", "timeout": "2h"}, "timeout"},
		{"txn empty", rpc.MethodKVTxn, map[string]any{"ops": []any{}}, "ops"},
		{"txn too many", rpc.MethodKVTxn, rpc.KVTxnParams{Ops: tooMany}, "129"},
		{"txn unknown verb", rpc.MethodKVTxn, map[string]any{"ops": []any{map[string]any{"verb": "upsert", "key": "keep/me"}}}, "upsert"},
		{"txn across shards", rpc.MethodKVTxn, rpc.KVTxnParams{Ops: append(spread, rpc.TxnOp{Verb: rpc.TxnDelete, Key: "keep/me"})}, "folder"},
		{"cas with recurse", rpc.MethodKVDelete, map[string]any{"key": "keep/", "recurse": true, "cas": 1}, "cas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.TryCall(0, tc.method, tc.params, nil)
			var re *rpc.Error
			if !errors.As(err, &re) || re.Code != rpc.CodeInvalidParams {
				t.Fatalf("err = %v, want code %d", err, rpc.CodeInvalidParams)
			}
			if !strings.Contains(re.Message, tc.want) {
				t.Fatalf("message %q does not name %q", re.Message, tc.want)
			}
		})
	}
	if after := get(t, c, "keep/me"); after.Entry.ModifyIndex != before.Entry.ModifyIndex || string(after.Entry.Value) != "safe" {
		t.Fatalf("bad requests changed the store: %+v", after.Entry)
	}
	var keys rpc.KVListResult
	c.Call(t, 0, rpc.MethodKVList, rpc.KVListParams{KeysOnly: true}, &keys)
	if len(keys.Keys) != 1 {
		t.Fatalf("bad requests wrote keys: %q", keys.Keys)
	}
}

func TestUnknownDC(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	err := c.TryCall(0, rpc.MethodKVGet, rpc.KVGetParams{Key: "a", ReadOptions: rpc.ReadOptions{DC: "mars"}}, nil)
	if !errors.Is(err, rpc.ErrUnknownDC) || !strings.Contains(err.Error(), "mars") {
		t.Fatalf("err = %v, want the unknown-DC error naming mars", err)
	}
}

func TestBlockingGet(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	p := put(t, c, "watch/k", "1")

	// A wait that runs out returns the same index.
	var res rpc.KVGetResult
	c.Call(t, 0, rpc.MethodKVGet, rpc.KVGetParams{Key: "watch/k", ReadOptions: rpc.ReadOptions{Index: p.Index, Wait: rpc.Duration(50 * time.Millisecond)}}, &res)
	if res.Index != p.Index {
		t.Fatalf("timed-out wait: index %d, want %d", res.Index, p.Index)
	}

	// A write elsewhere does not end the wait; a write to the key does.
	got := make(chan rpc.KVGetResult, 1)
	go func() {
		var r rpc.KVGetResult
		if err := c.TryCall(0, rpc.MethodKVGet, rpc.KVGetParams{Key: "watch/k", ReadOptions: rpc.ReadOptions{Index: p.Index, Wait: rpc.Duration(time.Minute)}}, &r); err != nil {
			t.Error(err)
		}
		got <- r
	}()
	put(t, c, "other/k", "x")
	select {
	case r := <-got:
		t.Fatalf("a write to another folder ended the wait: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	p2 := put(t, c, "watch/k", "2")
	select {
	case r := <-got:
		if r.Index != p2.Index || string(r.Entry.Value) != "2" {
			t.Fatalf("woken with %+v, want value 2 at index %d", r, p2.Index)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end after the key changed")
	}
}

// TestManyWatchers: a thousand blocked listings of one prefix all return
// after one write, and all see it.
func TestManyWatchers(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	p := put(t, c, "cfg/a", "1")
	const n = 1000
	var wg sync.WaitGroup
	results := make(chan uint64, n)
	started := make(chan struct{}, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			var r rpc.KVListResult
			if err := c.TryCallCtx(ctx, 0, rpc.MethodKVList, rpc.KVListParams{Prefix: "cfg/", ReadOptions: rpc.ReadOptions{Index: p.Index, Wait: rpc.Duration(time.Minute)}}, &r); err != nil {
				t.Error(err)
				return
			}
			results <- r.Index
		}()
	}
	for i := 0; i < n; i++ {
		<-started
	}
	p2 := put(t, c, "cfg/b", "2")
	wg.Wait()
	close(results)
	count := 0
	for idx := range results {
		count++
		if idx < p2.Index {
			t.Fatalf("a watcher returned index %d, before the write at %d", idx, p2.Index)
		}
	}
	if count != n {
		t.Fatalf("%d of %d watchers returned", count, n)
	}
}

func TestStaleRead(t *testing.T) {
	c := servertest.Start(t, servertest.Options{})
	put(t, c, "s/k", "v")
	var res rpc.KVGetResult
	c.Call(t, 0, rpc.MethodKVGet, rpc.KVGetParams{Key: "s/k", ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}}, &res)
	if res.Entry == nil || res.KnownLeader == nil || !*res.KnownLeader || res.LastContactMS == nil {
		t.Fatalf("stale read: %+v", res)
	}
	var def rpc.KVGetResult
	c.Call(t, 0, rpc.MethodKVGet, rpc.KVGetParams{Key: "s/k"}, &def)
	if def.KnownLeader != nil || def.LastContactMS != nil {
		t.Fatalf("a linearizable read carries stale-read fields: %+v", def)
	}
}
