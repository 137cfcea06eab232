package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestParams checks the strict decoding of params and that its errors
// name the field at fault.
func TestParams(t *testing.T) {
	s := NewServer(ServerConfig{Logger: testLogger(t)})
	Register(s, MethodKVPut, "", func(_ context.Context, p *KVPutParams) (*KVPutParams, error) { return p, nil })
	Register(s, MethodKVTxn, "", func(_ context.Context, p *KVTxnParams) (*KVTxnParams, error) { return p, nil })
	Register(s, MethodKVGet, "", func(_ context.Context, p *KVGetParams) (*KVGetParams, error) { return p, nil })
	cas := uint64(0)
	tests := []struct {
		name    string
		method  string
		params  string // raw JSON; "" leaves the member out
		want    any    // the decoded params, echoed back
		wantErr string // the whole error message
	}{
		{name: "absent", method: MethodKVPut, want: &KVPutParams{}},
		{name: "null", method: MethodKVPut, params: `null`, want: &KVPutParams{}},
		{name: "empty object", method: MethodKVPut, params: `{}`, want: &KVPutParams{}},
		{
			name: "every field", method: MethodKVPut,
			params: `{"key":"a/b","value":"aGk=","flags":7,"cas":0,"dc":"dc2","timeout":"1m30s"}`,
			want:   &KVPutParams{Key: "a/b", Value: []byte("hi"), Flags: 7, CAS: &cas, WriteOptions: WriteOptions{DC: "dc2", Timeout: Duration(90 * time.Second)}},
		},
		{name: "duration as nanoseconds", method: MethodKVPut, params: `{"timeout":1000}`,
			want: &KVPutParams{WriteOptions: WriteOptions{Timeout: Duration(time.Microsecond)}}},
		{name: "null member keeps the zero value", method: MethodKVPut, params: `{"key":null,"cas":null}`, want: &KVPutParams{}},
		{name: "case-insensitive match, as encoding/json", method: MethodKVPut, params: `{"KEY":"k"}`, want: &KVPutParams{Key: "k"}},
		{
			name: "nested", method: MethodKVTxn,
			params: `{"ops":[{"verb":"set","key":"a","value":"aGk="},{"verb":"check-index","key":"b","index":4}]}`,
			want: &KVTxnParams{Ops: []TxnOp{
				{Verb: TxnSet, Key: "a", Value: []byte("hi")},
				{Verb: TxnCheckIndex, Key: "b", Index: 4},
			}},
		},
		{name: "embedded options", method: MethodKVGet, params: `{"key":"k","consistency":"stale","index":5,"wait":"10s"}`,
			want: &KVGetParams{Key: "k", ReadOptions: ReadOptions{Consistency: ConsistencyStale, Index: 5, Wait: Duration(10 * time.Second)}}},

		{name: "array", method: MethodKVPut, params: `[1,2]`, wantErr: "invalid params: params must be an object"},
		{name: "string", method: MethodKVPut, params: `"bar"`, wantErr: "invalid params: params must be an object"},
		{name: "number", method: MethodKVPut, params: `5`, wantErr: "invalid params: params must be an object"},
		{name: "bool", method: MethodKVPut, params: `true`, wantErr: "invalid params: params must be an object"},
		{name: "unknown field", method: MethodKVPut, params: `{"key":"k","foo":1}`, wantErr: `invalid params: unknown field "foo"`},
		{name: "unknown nested field", method: MethodKVTxn, params: `{"ops":[{"verb":"set"},{"verb":"get","bogus":true}]}`,
			wantErr: `invalid params: unknown field "ops[1].bogus"`},
		{name: "string for uint64", method: MethodKVPut, params: `{"flags":"7"}`, wantErr: `invalid params: field "flags": expected uint64, got string`},
		{name: "negative uint64", method: MethodKVPut, params: `{"flags":-1}`, wantErr: `invalid params: field "flags": expected uint64, got number -1`},
		{name: "fraction for uint64", method: MethodKVPut, params: `{"flags":1.5}`, wantErr: `invalid params: field "flags": expected uint64, got number 1.5`},
		{name: "overflow", method: MethodKVPut, params: `{"flags":18446744073709551616}`,
			wantErr: `invalid params: field "flags": expected uint64, got number 18446744073709551616`},
		{name: "number for string", method: MethodKVPut, params: `{"key":5}`, wantErr: `invalid params: field "key": expected string, got number`},
		{name: "embedded field named by its JSON name", method: MethodKVPut, params: `{"dc":true}`, wantErr: `invalid params: field "dc": expected string, got bool`},
		{name: "number for bytes", method: MethodKVPut, params: `{"value":5}`, wantErr: `invalid params: field "value": expected base64 string, got number`},
		{name: "bad base64", method: MethodKVPut, params: `{"value":"%%%"}`, wantErr: `invalid params: field "value": illegal base64 data at input byte 0`},
		{name: "bad duration", method: MethodKVPut, params: `{"timeout":"soon"}`,
			wantErr: `invalid params: field "timeout": invalid duration "soon": want a Go duration such as "30s"`},
		{name: "negative duration", method: MethodKVGet, params: `{"wait":"-1s"}`,
			wantErr: `invalid params: field "wait": invalid duration "-1s": must not be negative`},
		{name: "object for array", method: MethodKVTxn, params: `{"ops":{}}`, wantErr: `invalid params: field "ops": expected array, got object`},
		{name: "nested type error", method: MethodKVTxn, params: `{"ops":[{"verb":"set"},{"verb":3}]}`,
			wantErr: `invalid params: field "ops[1].verb": expected string, got number`},
		{name: "number for object", method: MethodKVTxn, params: `{"ops":[1]}`, wantErr: `invalid params: field "ops[0]": expected object, got number`},
		{name: "pointer field", method: MethodKVPut, params: `{"cas":"x"}`, wantErr: `invalid params: field "cas": expected uint64, got string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"id":1}`, tt.method)
			if tt.params != "" {
				req = fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":1}`, tt.method, tt.params)
			}
			var resp struct {
				Result json.RawMessage `json:"result"`
				Error  *Error          `json:"error"`
			}
			raw := s.Handle(t.Context(), []byte(req))
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatalf("answer %s: %v", raw, err)
			}
			if tt.wantErr != "" {
				if resp.Error == nil || resp.Error.Code != CodeInvalidParams || resp.Error.Message != tt.wantErr {
					t.Fatalf("answer %s, want error %d %q", raw, CodeInvalidParams, tt.wantErr)
				}
				return
			}
			if resp.Error != nil {
				t.Fatalf("error %v", resp.Error)
			}
			got := reflect.New(reflect.TypeOf(tt.want).Elem()).Interface()
			if err := json.Unmarshal(resp.Result, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestStructFields checks the flattening rules against encoding/json's:
// the members found must be the ones json.Marshal writes.
func TestStructFields(t *testing.T) {
	type Inner struct {
		A int `json:"a"`
		B int `json:"b,omitempty"`
	}
	// Untagged, so that vet does not flag the deliberate clashes below.
	type Plain struct {
		P int
		Q int
	}
	type Other struct {
		P int
	}
	type tagged struct {
		C int
	}
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{"kv get params", KVGetParams{}, []string{"key", "dc", "consistency", "index", "wait", "timeout"}},
		{"hidden and renamed", struct {
			X int `json:"-"`
			Y int `json:"why"`
			Z int
			z int
		}{}, []string{"why", "Z"}},
		{"shallower wins", struct {
			Plain
			P string
		}{}, []string{"Q", "P"}},
		{"ambiguous names are dropped", struct {
			Plain
			Other
		}{}, []string{"Q"}},
		{"tagged embedded struct is a field", struct {
			tagged `json:"t"`
			Inner
		}{}, []string{"t", "a", "b"}},
		{"embedded pointer", struct{ *Inner }{Inner: &Inner{B: 1}}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range structFields(reflect.TypeOf(tt.v)) {
				got = append(got, f.name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fields %v, want %v", got, tt.want)
			}
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			var written map[string]any
			if err := json.Unmarshal(b, &written); err != nil {
				t.Fatal(err)
			}
			for k := range written {
				if !slices.Contains(got, k) {
					t.Errorf("json.Marshal writes %q (%s), not among the fields", k, b)
				}
			}
		})
	}
}
