package kv

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"meridian/rpc"
)

const benchKeys = 100_000

func benchKey(i int) string { return fmt.Sprintf("app%d/svc%02d/key%06d", i%16, i%50, i) }

// loaded returns a machine holding benchKeys keys with 128-byte values.
func loaded(b *testing.B) (*Machine, uint64) {
	b.Helper()
	m := New()
	value := bytes.Repeat([]byte("v"), 128)
	next := uint64(1)
	for i := 0; i < benchKeys; i += 1024 {
		bt := m.Begin()
		for j := i; j < min(i+1024, benchKeys); j++ {
			bt.Apply(next, (&Command{Op: OpPut, Key: benchKey(j), Value: value}).Marshal())
			next++
		}
		bt.Commit()
	}
	return m, next
}

// BenchmarkApplyPut applies puts of 128-byte values in batches of 64 (what
// dragonboat hands Update under concurrent load) to a shard of 100k keys.
// One op is one put.
func BenchmarkApplyPut(b *testing.B) {
	const batch = 64
	m, next := loaded(b)
	value := bytes.Repeat([]byte("w"), 128)
	cmds := make([][]byte, benchKeys)
	for i := range cmds {
		cmds[i] = (&Command{Op: OpPut, Key: benchKey((i * 7919) % benchKeys), Value: value}).Marshal()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		bt := m.Begin()
		for j := 0; j < batch && i < b.N; j, i = j+1, i+1 {
			if r := bt.Apply(next, cmds[i%len(cmds)]); !r.OK {
				b.Fatal(r)
			}
			next++
		}
		bt.Commit()
	}
}

// BenchmarkApplyTxn applies 8-op transactions (a get and a set of 4 keys),
// in batches of 64. One op is one transaction, decoding included.
func BenchmarkApplyTxn(b *testing.B) {
	m, next := loaded(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		bt := m.Begin()
		for j := 0; j < 64 && i < b.N; j, i = j+1, i+1 {
			var ops []rpc.TxnOp
			for k := range 4 {
				key := benchKey((i*4 + k) % benchKeys)
				ops = append(ops, rpc.TxnOp{Verb: rpc.TxnGet, Key: key})
				ops = append(ops, rpc.TxnOp{Verb: rpc.TxnSet, Key: key, Value: []byte("txn")})
			}
			if r := bt.Apply(next, (&Command{Op: OpTxn, Ops: ops}).Marshal()); !r.OK {
				b.Fatal(r)
			}
			next++
		}
		bt.Commit()
	}
}

func BenchmarkGet(b *testing.B) {
	m, _ := loaded(b)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = benchKey((i * 7919) % benchKeys)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if e, _, _ := m.View().Get(keys[i%len(keys)]); e == nil {
			b.Fatal("missing")
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	m, _ := loaded(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.View().Get(benchKey(i % benchKeys))
			i += 7919
		}
	})
}

// BenchmarkList lists one folder of 6250 keys with a separator.
func BenchmarkList(b *testing.B) {
	m, _ := loaded(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, keys, _, _ := m.View().List("app3/", true, "/"); len(keys) != 50/2 {
			b.Fatal(len(keys))
		}
	}
}

// BenchmarkSnapshot writes and restores a shard of 100k keys with 128-byte
// values; bytes/s is the snapshot size over time.
func BenchmarkSnapshot(b *testing.B) {
	m, _ := loaded(b)
	var buf bytes.Buffer
	if err := m.View().WriteSnapshot(&buf); err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := m.View().WriteSnapshot(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := New().RestoreSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
