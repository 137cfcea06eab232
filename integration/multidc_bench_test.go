package integration

import (
	"context"
	"testing"

	"meridian/rpc"
)

// BenchmarkCrossDC measures what a cross-datacenter hop adds to a call:
// one client, one call at a time, all through edges on loopback (so the
// hop's cost is its software path, not a WAN's distance). Sub-benchmarks:
//
//	get/local      kv.get of a dc1 key at dc1's edge
//	get/dc2-at-dc2 kv.get of a dc2 key at dc2's edge (the same call, local there)
//	get/dc2-via-dc1 kv.get of that dc2 key at dc1's edge with dc "dc2"
//	put/...        the same with kv.put
//
//	go test ./integration -run '^$' -bench CrossDC -count 5
//
// ns/op is the latency of one call; the "via" rows minus the "at" rows
// is the hop.
func BenchmarkCrossDC(b *testing.B) {
	dc1, dc2, _ := twoDCs(b)
	e1, e2 := dc1.EdgeClient(0), dc2.EdgeClient(0)
	ctx := context.Background()
	value := make([]byte, 128)
	for _, c := range []struct {
		cl  *rpc.Client
		dc  string
		key string
	}{{e1, "", "bench/local"}, {e2, "", "bench/dc2"}} {
		if err := c.cl.Call(ctx, rpc.MethodKVPut, rpc.KVPutParams{Key: c.key, Value: value}, nil); err != nil {
			b.Fatal(err)
		}
	}
	cases := []struct {
		name string
		cl   *rpc.Client
		dc   string
		key  string
	}{
		{"local", e1, "", "bench/local"},
		{"dc2-at-dc2", e2, "", "bench/dc2"},
		{"dc2-via-dc1", e1, "dc2", "bench/dc2"},
	}
	for _, c := range cases {
		b.Run("get/"+c.name, func(b *testing.B) {
			p := rpc.KVGetParams{Key: c.key, ReadOptions: rpc.ReadOptions{DC: c.dc}}
			for b.Loop() {
				var r rpc.KVGetResult
				if err := c.cl.Call(ctx, rpc.MethodKVGet, p, &r); err != nil || r.Entry == nil {
					b.Fatal(err, r.Entry)
				}
			}
		})
	}
	for _, c := range cases {
		b.Run("put/"+c.name, func(b *testing.B) {
			p := rpc.KVPutParams{Key: c.key, Value: value, WriteOptions: rpc.WriteOptions{DC: c.dc}}
			for b.Loop() {
				if err := c.cl.Call(ctx, rpc.MethodKVPut, p, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
