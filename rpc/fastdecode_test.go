package rpc

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
)

// fastAnswerCases are answers as servers write them and near misses the
// fast path must leave to encoding/json.
var fastAnswerCases = []string{
	`{"jsonrpc":"2.0","result":{"entry":{"key":"app/a","value":"dmFsdWU=","flags":7,"create_index":3,"modify_index":9,"lock_index":0},"index":9},"id":42}`,
	`{"jsonrpc":"2.0","id":42,"result":{"entry":null,"index":12}}`,
	` { "id" : 42 , "result" : { "index" : 1 , "entry" : { "key" : "k" , "value" : "" } } , "jsonrpc" : "2.0" } `,
	`{"jsonrpc":"2.0","result":{"entry":{"key":"k","value":null,"session":"s1"},"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"ok":true,"index":18446744073709551615},"id":42}`,
	`{"jsonrpc":"2.0","result":{"ok":false,"index":0},"id":42}`,
	`{"jsonrpc":"2.0","result":{"entry":null,"index":3,"known_leader":true,"last_contact_ms":12},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":3,"known_leader":false,"last_contact_ms":-1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1,"last_contact_ms":-0},"id":42}`,
	// Not for the fast path: encoding/json decides.
	`{"jsonrpc":"2.0","result":{"entry":{"key":"caf\u00e9","value":"dg=="},"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"entry":{"key":"café"},"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"entry":{"Key":"k"},"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"entry":{"key":"k","value":"dg"},"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"entry":{"key":"k","value":"d\ng=="},"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1.5},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":-1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":18446744073709551616},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1,"index":2},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1,"known_leader":null},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1,"last_contact_ms":9223372036854775808},"id":42}`,
	`{"jsonrpc":"2.0","result":{"ok":"true","index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":null,"id":42}`,
	`{"jsonrpc":"2.0","error":{"code":-32004,"message":"no leader"},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1},"id":43}`,
	`{"jsonrpc":"1.0","result":{"index":1},"id":42}`,
	`{"jsonrpc":"2.0","result":{"index":1},"id":42`,
	`{"jsonrpc":"2.0","result":{"index":1},"id":42,"extra":1}`,
	`[{"jsonrpc":"2.0","result":{"index":1},"id":42}]`,
}

// checkFastAnswer decodes body both ways into a zero target of each
// result type and fails t when the fast path took an answer it decoded
// differently from encoding/json (or one encoding/json refuses).
func checkFastAnswer(t *testing.T, body []byte) {
	t.Helper()
	for _, target := range []func() fastResult{
		func() fastResult { return new(KVGetResult) },
		func() fastResult { return new(KVPutResult) },
		func() fastResult { return new(KVDeleteResult) },
	} {
		fast := target()
		if !fastAnswer(body, 42, fast) {
			if !reflect.DeepEqual(fast, target()) {
				t.Fatalf("%s: the fast path gave up on %T but changed it: %+v", body, fast, fast)
			}
			continue
		}
		want := target()
		r := response{Result: want}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("%s: the fast path took an answer encoding/json refuses: %v", body, err)
		}
		if r.JSONRPC != "2.0" || r.Error != nil || string(r.ID) != strconv.Itoa(42) {
			t.Fatalf("%s: the fast path took an answer Client.post refuses: %+v", body, r)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%s: %T decoded as %s by the fast path, %s by encoding/json", body, fast, dump(fast), dump(want))
		}
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFastAnswerAgreesWithEncodingJSON(t *testing.T) {
	took := 0
	for _, c := range fastAnswerCases {
		checkFastAnswer(t, []byte(c))
		if fastAnswer([]byte(c), 42, new(KVGetResult)) || fastAnswer([]byte(c), 42, new(KVPutResult)) {
			took++
		}
	}
	// The servers' own answers must take the fast path, or it is dead code.
	if took != 9 {
		t.Errorf("the fast path took %d of the cases, want the first 9", took)
	}
	// A target that is not zero goes to encoding/json, which merges.
	old := &KVGetResult{ReadMeta: ReadMeta{Index: 5}}
	if fastAnswer([]byte(fastAnswerCases[1]), 42, old) {
		t.Error("the fast path decoded into a target that was not zero")
	}
}

// The fast path's answers as the server writes them, from its own types.
func TestFastAnswerTakesServerAnswers(t *testing.T) {
	for _, res := range []any{
		&KVGetResult{Entry: &KVEntry{Key: "a/b", Value: []byte{0, 1, 2, 255}, Flags: 1, CreateIndex: 2, ModifyIndex: 3}, ReadMeta: ReadMeta{Index: 3}},
		&KVGetResult{Entry: &KVEntry{Key: "a", Value: []byte{}, Session: "s"}, ReadMeta: ReadMeta{Index: 1}},
		&KVGetResult{ReadMeta: ReadMeta{Index: 7}},
		&KVPutResult{OK: true, Index: 99},
		&KVDeleteResult{},
		&KVGetResult{ReadMeta: ReadMeta{Index: 4, KnownLeader: new(bool), LastContactMS: new(int64)}},
	} {
		result, _ := json.Marshal(res)
		body := []byte(`{"jsonrpc":"2.0","id":42,"result":` + string(result) + `}`)
		fast := reflect.New(reflect.TypeOf(res).Elem()).Interface().(fastResult)
		if !fastAnswer(body, 42, fast) {
			t.Errorf("%s: not taken by the fast path", body)
			continue
		}
		if !reflect.DeepEqual(fast, res) {
			t.Errorf("%s: decoded as %s", body, dump(fast))
		}
	}
}

// FuzzFastDecode: whatever the bytes, the fast path either leaves the
// answer to encoding/json or decodes it exactly as encoding/json does.
//
//	go test ./rpc -run '^$' -fuzz FuzzFastDecode -fuzztime 1m
func FuzzFastDecode(f *testing.F) {
	for _, c := range fastAnswerCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastAnswer(t, body)
	})
}
