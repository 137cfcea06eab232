package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// FuzzHandle feeds arbitrary bodies to Handle. Invariants: it never
// panics; the answer is nil or valid JSON; every answer object is a
// JSON-RPC 2.0 response (jsonrpc "2.0", an id, exactly one of result and
// error); a body that is not JSON gets one parse error with id null; a
// batch answer is a non-empty array.
func FuzzHandle(f *testing.F) {
	s, _ := specServer(f)
	s.log = slog.New(slog.DiscardHandler) // the panicking method would flood the output
	Register(s, MethodKVPut, "", func(_ context.Context, p *KVPutParams) (*KVPutResult, error) {
		if p.Key == "panic" {
			panic("fuzz")
		}
		return &KVPutResult{OK: true, Index: uint64(len(p.Value))}, nil
	})
	Register(s, MethodKVTxn, "", func(_ context.Context, p *KVTxnParams) (*KVTxnParams, error) { return p, nil })
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := s.Handle(t.Context(), body)
		if resp == nil {
			return
		}
		if !json.Valid(resp) {
			t.Fatalf("answer is not JSON: %q", resp)
		}
		if !json.Valid(body) {
			var e struct {
				Error *Error          `json:"error"`
				ID    json.RawMessage `json:"id"`
			}
			if json.Unmarshal(resp, &e) != nil || e.Error == nil || e.Error.Code != CodeParseError || string(e.ID) != "null" {
				t.Fatalf("body %q is not JSON, answer %s", body, resp)
			}
		}
		if resp[0] == '[' {
			var batch []json.RawMessage
			if err := json.Unmarshal(resp, &batch); err != nil || len(batch) == 0 {
				t.Fatalf("bad batch answer %s: %v", resp, err)
			}
			for _, r := range batch {
				checkResponse(t, r)
			}
			return
		}
		checkResponse(t, resp)
	})
}

func checkResponse(t *testing.T, r []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r, &m); err != nil {
		t.Fatalf("answer %s is not an object: %v", r, err)
	}
	_, hasResult := m["result"]
	_, hasError := m["error"]
	_, hasID := m["id"]
	if string(m["jsonrpc"]) != `"2.0"` || !hasID || hasResult == hasError || len(m) != 3 {
		t.Fatalf("not a JSON-RPC 2.0 response: %s", r)
	}
	if hasError {
		var e Error
		if err := json.Unmarshal(m["error"], &e); err != nil || e.Code == 0 || e.Message == "" {
			t.Fatalf("bad error object in %s", r)
		}
	}
	if id := bytes.TrimSpace(m["id"]); len(id) == 0 || (id[0] != '"' && id[0] != 'n' && id[0] != '-' && (id[0] < '0' || id[0] > '9')) {
		t.Fatalf("bad id in %s", r)
	}
}
