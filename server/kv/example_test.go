package kv_test

import (
	"bytes"
	"fmt"

	"meridian/rpc"
	"meridian/server/kv"
)

func Example() {
	m := kv.New()

	// The writer: one batch per dragonboat Update.
	b := m.Begin()
	put := &kv.Command{Op: kv.OpPut, Key: "app/web/port", Value: []byte("8080")}
	b.Apply(1, put.Marshal())
	cas := &kv.Command{Op: kv.OpPut, Key: "app/web/port", Value: []byte("9090"), HasCAS: true, CASIndex: 7}
	value, data := b.Apply(2, cas.Marshal()).Encode() // into sm.Result
	b.Commit()

	// The proposer decodes the result.
	r, _ := kv.DecodeResult(value, data)
	fmt.Println("cas ok:", r.OK, "at", r.Index)

	// Readers never block.
	v := m.View()
	e, index, _ := v.Get("app/web/port")
	fmt.Printf("%s = %s (modify %d), index %d\n", e.Key, e.Value, e.ModifyIndex, index)

	txn := &kv.Command{Op: kv.OpTxn, Ops: []rpc.TxnOp{
		{Verb: rpc.TxnCheckIndex, Key: "app/web/port", Index: 1},
		{Verb: rpc.TxnSet, Key: "app/web/host", Value: []byte("web-1")},
	}}
	b = m.Begin()
	tr := b.Apply(3, txn.Marshal())
	b.Commit()
	fmt.Println("txn ok:", tr.Txn.OK, "results:", len(tr.Txn.Results))

	_, keys, index, _ := m.View().List("app/", true, "/")
	fmt.Println(keys, index)

	// Snapshots stream from any View and restore exactly.
	var buf bytes.Buffer
	_ = m.View().WriteSnapshot(&buf)
	m2 := kv.New()
	_ = m2.RestoreSnapshot(&buf)
	fmt.Println("restored:", m2.View().Len(), "keys at index", m2.View().Index())

	// Output:
	// cas ok: false at 2
	// app/web/port = 8080 (modify 1), index 1
	// txn ok: true results: 2
	// [app/web/] 3
	// restored: 2 keys at index 3
}
