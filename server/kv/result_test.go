package kv

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"meridian/rpc"
)

var goldenResults = []struct {
	name string
	r    Result
}{
	{"ok", Result{OK: true, Index: 42}},
	{"cas failed", Result{Index: 43}},
	{"malformed", Result{Index: 44, Err: "kv: invalid key: empty"}},
	{"txn ok", Result{OK: true, Index: 45, Txn: &rpc.KVTxnResult{OK: true, Index: 45, Results: []rpc.TxnResult{
		{Verb: rpc.TxnSet, Entry: &rpc.KVEntry{Key: "a", Value: []byte("v"), Flags: 1, CreateIndex: 3, ModifyIndex: 45, LockIndex: 2, Session: "s"}},
		{Verb: rpc.TxnGet},
		{Verb: "custom"},
	}}}},
	{"txn failed", Result{Index: 46, Txn: &rpc.KVTxnResult{Index: 46, Errors: []rpc.TxnError{
		{OpIndex: 0, What: `key "a" exists`}, {OpIndex: 127, What: `unknown verb "x"`}, {OpIndex: -1, What: "odd"},
	}}}},
	{"txn empty", Result{OK: true, Index: 47, Txn: &rpc.KVTxnResult{OK: true, Index: 47}}},
}

func TestResultRoundTrip(t *testing.T) {
	for _, tt := range goldenResults {
		t.Run(tt.name, func(t *testing.T) {
			v, data := tt.r.Encode()
			if v != tt.r.Index {
				t.Errorf("value %d, want the index %d", v, tt.r.Index)
			}
			if (data == nil) != (tt.name == "ok") {
				t.Errorf("data %v: only a plain success has none", data)
			}
			got, err := DecodeResult(v, data)
			if err != nil || !reflect.DeepEqual(got, tt.r) {
				t.Fatalf("DecodeResult = %+v, %v; want %+v", got, err, tt.r)
			}
		})
	}
}

func TestResultGolden(t *testing.T) {
	for _, tt := range goldenResults {
		t.Run(tt.name, func(t *testing.T) {
			v, data := tt.r.Encode()
			checkSeed(t, "FuzzDecodeResult", strings.ReplaceAll(tt.name, " ", "-"),
				fmt.Sprintf("uint64(%d)", v), fmt.Sprintf("[]byte(%q)", data))
		})
	}
}

func TestDecodeResultErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"version", []byte{2, 0}},
		{"bits", []byte{1, 0x80}},
		{"err cut", []byte{1, resErr, 5, 'a'}},
		{"txn cut", []byte{1, resTxn, 1}},
		{"txn ok byte", []byte{1, resTxn, 2, 0, 0, 0}},
		{"entry flag", []byte{1, resTxn, 1, 0, 1, 1, 2, 0}},
		{"trailing", []byte{1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeResult(1, tt.data); !errors.Is(err, ErrMalformedResult) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzDecodeResult(f *testing.F) {
	for _, tt := range goldenResults {
		_, data := tt.r.Encode()
		f.Add(tt.r.Index, data)
	}
	f.Fuzz(func(t *testing.T, v uint64, data []byte) {
		r, err := DecodeResult(v, data)
		if err != nil {
			if !errors.Is(err, ErrMalformedResult) {
				t.Fatal(err)
			}
			return
		}
		v2, data2 := r.Encode()
		r2, err := DecodeResult(v2, data2)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v, %v; want %+v", r2, err, r)
		}
	})
}
