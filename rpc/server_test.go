package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

type subtractParams struct {
	Minuend    int `json:"minuend"`
	Subtrahend int `json:"subtrahend"`
}

type valuesParams struct {
	Values []int `json:"values"`
}

// specServer registers the methods of the examples of the JSON-RPC 2.0
// spec (section 7), with params by name. notified counts notifications.
func specServer(t testing.TB) (s *Server, notified *atomic.Int64) {
	s = NewServer(ServerConfig{Logger: testLogger(t)})
	notified = new(atomic.Int64)
	Register(s, "subtract", "minuend - subtrahend",
		func(_ context.Context, p *subtractParams) (*int, error) {
			r := p.Minuend - p.Subtrahend
			return &r, nil
		})
	Register(s, "sum", "Adds the values.",
		func(_ context.Context, p *valuesParams) (*int, error) {
			r := 0
			for _, v := range p.Values {
				r += v
			}
			return &r, nil
		})
	notify := func(_ context.Context, _ *valuesParams) (*struct{}, error) {
		notified.Add(1)
		return &struct{}{}, nil
	}
	Register(s, "notify_hello", "A notification.", notify)
	Register(s, "update", "A notification.", notify)
	Register(s, "get_data", "Returns data.",
		func(context.Context, *struct{}) (*[]any, error) {
			return &[]any{"hello", 5}, nil
		})
	return s, notified
}

// assertJSON compares an answer with the wanted JSON ("" for no answer).
// An error object in want without "message" accepts any non-empty message,
// so the table pins only the messages it cares about.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Fatalf("got %s, want no answer", got)
		}
		return
	}
	g, w := decodeAny(t, got), decodeAny(t, []byte(want))
	if !matchJSON(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

func matchJSON(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		if _, isErr := w["code"]; isErr {
			if _, pinned := w["message"]; !pinned {
				if m, _ := g["message"].(string); m == "" {
					return false
				}
				g = maps(g)
				delete(g, "message")
			}
		}
		if len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !matchJSON(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchJSON(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

func maps(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// TestSpecExamples plays the examples of the JSON-RPC 2.0 spec, section 7,
// adapted to params by name.
func TestSpecExamples(t *testing.T) {
	tests := []struct {
		name     string
		req      string
		want     string
		notified int64
	}{
		{
			name: "named params",
			req:  `{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 1}`,
			want: `{"jsonrpc": "2.0", "result": 19, "id": 1}`,
		},
		{
			name: "named params in another order",
			req:  `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
			want: `{"jsonrpc": "2.0", "result": 19, "id": 3}`,
		},
		{
			name: "negative result",
			req:  `{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 23, "subtrahend": 42}, "id": 2}`,
			want: `{"jsonrpc": "2.0", "result": -19, "id": 2}`,
		},
		{
			name: "positional params are refused",
			req:  `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
			want: `{"jsonrpc": "2.0", "error": {"code": -32602, "message": "invalid params: params must be an object"}, "id": 1}`,
		},
		{
			name:     "notification",
			req:      `{"jsonrpc": "2.0", "method": "update", "params": {"values": [1,2,3,4,5]}}`,
			notified: 1,
		},
		{
			name: "notification of an unknown method",
			req:  `{"jsonrpc": "2.0", "method": "foobar"}`,
		},
		{
			name: "non-existent method",
			req:  `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`,
			want: `{"jsonrpc": "2.0", "error": {"code": -32601, "message": "method not found: \"foobar\""}, "id": "1"}`,
		},
		{
			name: "invalid JSON",
			req:  `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
			want: `{"jsonrpc": "2.0", "error": {"code": -32700}, "id": null}`,
		},
		{
			name: "invalid request object",
			req:  `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`,
			want: `{"jsonrpc": "2.0", "error": {"code": -32600, "message": "invalid request: method must be a string"}, "id": null}`,
		},
		{
			name: "batch, invalid JSON",
			req: `[
  {"jsonrpc": "2.0", "method": "sum", "params": {"values": [1,2,4]}, "id": "1"},
  {"jsonrpc": "2.0", "method"
]`,
			want: `{"jsonrpc": "2.0", "error": {"code": -32700}, "id": null}`,
		},
		{
			name: "empty array",
			req:  `[]`,
			want: `{"jsonrpc": "2.0", "error": {"code": -32600, "message": "invalid request: empty batch"}, "id": null}`,
		},
		{
			name: "invalid batch but not empty",
			req:  `[1]`,
			want: `[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "invalid request: a request must be an object"}, "id": null}]`,
		},
		{
			name: "invalid batch",
			req:  `[1,2,3]`,
			want: `[
  {"jsonrpc": "2.0", "error": {"code": -32600}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600}, "id": null}
]`,
		},
		{
			name: "batch",
			req: `[
  {"jsonrpc": "2.0", "method": "sum", "params": {"values": [1,2,4]}, "id": "1"},
  {"jsonrpc": "2.0", "method": "notify_hello", "params": {"values": [7]}},
  {"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": "2"},
  {"foo": "boo"},
  {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
  {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
]`,
			want: `[
  {"jsonrpc": "2.0", "result": 7, "id": "1"},
  {"jsonrpc": "2.0", "result": 19, "id": "2"},
  {"jsonrpc": "2.0", "error": {"code": -32600}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32601, "message": "method not found: \"foo.get\""}, "id": "5"},
  {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
]`,
			notified: 1,
		},
		{
			name: "batch of notifications",
			req: `[
  {"jsonrpc": "2.0", "method": "notify_sum", "params": {"values": [1,2,4]}},
  {"jsonrpc": "2.0", "method": "notify_hello", "params": {"values": [7]}}
]`,
			notified: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, notified := specServer(t)
			assertJSON(t, s.Handle(t.Context(), []byte(tt.req)), tt.want)
			if got := notified.Load(); got != tt.notified {
				t.Errorf("notifications run: %d, want %d", got, tt.notified)
			}
		})
	}
}

// TestHandleEnvelope covers what the spec examples leave out: ids kept in
// their raw form, the checks on jsonrpc, method and id, escapes.
func TestHandleEnvelope(t *testing.T) {
	tests := []struct {
		name string
		req  string
		want string // exact bytes; "" for no answer
	}{
		{"id as written: 1.0", `{"jsonrpc":"2.0","method":"subtract","id":1.0}`, `{"jsonrpc":"2.0","result":0,"id":1.0}`},
		{"id as written: exponent", `{"jsonrpc":"2.0","method":"subtract","id":-1e3}`, `{"jsonrpc":"2.0","result":0,"id":-1e3}`},
		{"id as written: big number", `{"jsonrpc":"2.0","method":"subtract","id":123456789012345678901234567890}`, `{"jsonrpc":"2.0","result":0,"id":123456789012345678901234567890}`},
		{"id as written: escaped string", `{"jsonrpc":"2.0","method":"subtract","id":"a\u00e9\"b"}`, `{"jsonrpc":"2.0","result":0,"id":"a\u00e9\"b"}`},
		{"id null is answered", `{"jsonrpc":"2.0","method":"subtract","id":null}`, `{"jsonrpc":"2.0","result":0,"id":null}`},
		{"space around the body", " \n\t{\"jsonrpc\":\"2.0\",\"method\":\"subtract\",\"id\":7} \r\n", `{"jsonrpc":"2.0","result":0,"id":7}`},
		{"escaped member names and method", `{"json\u0072pc":"2.\u0030","\u006dethod":"sub\u0074ract","id":1}`, `{"jsonrpc":"2.0","result":0,"id":1}`},
		{"unknown envelope members are ignored", `{"jsonrpc":"2.0","method":"subtract","id":1,"extra":{"a":[1]}}`, `{"jsonrpc":"2.0","result":0,"id":1}`},
		{"no answer to a notification with bad params", `{"jsonrpc":"2.0","method":"subtract","params":{"minuend":"x"}}`, ""},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","method":"subtract","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: jsonrpc must be \"2.0\""},"id":1}`},
		{"jsonrpc as a number", `{"jsonrpc":2.0,"method":"subtract","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: jsonrpc must be \"2.0\""},"id":1}`},
		{"jsonrpc missing", `{"method":"subtract","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: jsonrpc must be \"2.0\""},"id":1}`},
		{"member names are case-sensitive", `{"JSONRPC":"2.0","Method":"subtract","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: jsonrpc must be \"2.0\""},"id":1}`},
		{"method missing", `{"jsonrpc":"2.0","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: method must be a string"},"id":1}`},
		{"method null", `{"jsonrpc":"2.0","method":null,"id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: method must be a string"},"id":1}`},
		{"id object", `{"jsonrpc":"2.0","method":"subtract","id":{"a":1}}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: id must be a string, a number or null"},"id":null}`},
		{"id bool", `{"jsonrpc":"2.0","method":"subtract","id":true}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: id must be a string, a number or null"},"id":null}`},
		{"id array", `{"jsonrpc":"2.0","method":"subtract","id":[1]}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: id must be a string, a number or null"},"id":null}`},
		{"a number", `1`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: a request must be an object"},"id":null}`},
		{"null", `null`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: a request must be an object"},"id":null}`},
		{"empty body", ``, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error at byte 0: unexpected end of JSON input"},"id":null}`},
		{"two values", `{} {}`, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error at byte 4: invalid character '{' after top-level value"},"id":null}`},
		{"long method name is cut in the message", `{"jsonrpc":"2.0","method":"` + strings.Repeat("m", 300) + `","id":1}`,
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found: \"` + strings.Repeat("m", 128) + `\"..."},"id":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := specServer(t)
			got := s.Handle(t.Context(), []byte(tt.req))
			if tt.want == "" {
				if got != nil {
					t.Fatalf("got %s, want no answer", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestHandleErrors checks that errors from methods go through ToError.
func TestHandleErrors(t *testing.T) {
	type failParams struct {
		Kind string `json:"kind"`
	}
	var logs bytes.Buffer
	s := NewServer(ServerConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	Register(s, "fail", "Fails as asked.", func(ctx context.Context, p *failParams) (*float64, error) {
		switch p.Kind {
		case "no leader":
			return nil, fmt.Errorf("shard 3: %w", ErrNoLeader)
		case "deadline":
			return nil, fmt.Errorf("proposing: %w", context.DeadlineExceeded)
		case "unknown dc":
			return nil, fmt.Errorf("dc %q: %w", "eu9", ErrUnknownDC)
		case "own error":
			return nil, &Error{Code: -32050, Message: "custom"}
		case "invalid params":
			return nil, InvalidParams("field %q: must not be empty", "key")
		case "plain":
			return nil, errors.New("disk on fire")
		case "panic":
			panic("handler bug")
		case "nan":
			v := math.NaN()
			return &v, nil
		case "nil result":
			return nil, nil
		}
		v := 1.5
		return &v, nil
	})
	tests := []struct {
		kind string
		want string
	}{
		{"ok", `{"jsonrpc":"2.0","result":1.5,"id":1}`},
		{"nil result", `{"jsonrpc":"2.0","result":null,"id":1}`},
		{"no leader", `{"jsonrpc":"2.0","error":{"code":-32000,"message":"shard 3: no leader for the shard (retryable)","data":{"retryable":true}},"id":1}`},
		{"deadline", `{"jsonrpc":"2.0","error":{"code":-32001,"message":"proposing: context deadline exceeded","data":{"retryable":true}},"id":1}`},
		{"unknown dc", `{"jsonrpc":"2.0","error":{"code":-32002,"message":"dc \"eu9\": unknown datacenter"},"id":1}`},
		{"own error", `{"jsonrpc":"2.0","error":{"code":-32050,"message":"custom"},"id":1}`},
		{"invalid params", `{"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid params: field \"key\": must not be empty"},"id":1}`},
		{"plain", `{"jsonrpc":"2.0","error":{"code":-32603,"message":"disk on fire"},"id":1}`},
		{"panic", `{"jsonrpc":"2.0","error":{"code":-32603,"message":"internal error"},"id":1}`},
		{"nan", `{"jsonrpc":"2.0","error":{"code":-32603,"message":"encoding the result: json: unsupported value: NaN"},"id":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got := s.Handle(t.Context(), fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"fail","params":{"kind":%q},"id":1}`, tt.kind))
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if !strings.Contains(logs.String(), "handler bug") || !strings.Contains(logs.String(), "method=fail") {
		t.Errorf("the panic was not logged with its method: %q", logs.String())
	}
}

// TestBatch covers batches: concurrency, order, limits, contexts.
func TestBatch(t *testing.T) {
	type key struct{}
	type tagParams struct {
		Tag  string `json:"tag"`
		Wait int    `json:"wait"` // calls that must be running at once
	}
	newServer := func(t *testing.T, maxBatch int) *Server {
		s := NewServer(ServerConfig{MaxBatch: maxBatch, Logger: testLogger(t)})
		var (
			mu      sync.Mutex
			arrived int
			all     = make(chan struct{})
		)
		Register(s, "tag", "Echoes the tag once Wait calls run at once.", func(ctx context.Context, p *tagParams) (*string, error) {
			if ctx.Value(key{}) != "request" {
				return nil, errors.New("the call's context does not derive from the request's")
			}
			if p.Wait > 0 {
				mu.Lock()
				arrived++
				if arrived == p.Wait {
					close(all)
				}
				mu.Unlock()
				select {
				case <-all:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return &p.Tag, nil
		})
		return s
	}
	call := func(id int, tag string, wait int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","method":"tag","params":{"tag":%q,"wait":%d},"id":%d}`, tag, wait, id)
	}
	answer := func(id int, tag string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","result":%q,"id":%d}`, tag, id)
	}
	batchOf := func(n, wait int, f func(id int, tag string, wait int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(n-i, fmt.Sprint("t", i), wait)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name     string
		maxBatch int
		req      string
		want     string
	}{
		{
			name: "calls run concurrently, answers keep the order",
			req:  batchOf(8, 8, call),
			want: batchOf(8, 0, func(id int, tag string, _ int) string { return answer(id, tag) }),
		},
		{
			name:     "a batch at the limit",
			maxBatch: 3,
			req:      batchOf(3, 0, call),
			want:     batchOf(3, 0, func(id int, tag string, _ int) string { return answer(id, tag) }),
		},
		{
			name:     "a batch over the limit",
			maxBatch: 3,
			req:      batchOf(4, 0, call),
			want:     `{"jsonrpc":"2.0","error":{"code":-32004,"message":"batch exceeds the limit of 3 calls"},"id":null}`,
		},
		{
			name: "a batch of one",
			req:  "[" + call(1, "a", 0) + "]",
			want: "[" + answer(1, "a") + "]",
		},
		{
			name: "notifications leave no trace in the answer",
			req:  `[{"jsonrpc":"2.0","method":"tag","params":{"tag":"n"}},` + call(2, "b", 0) + `,{"jsonrpc":"2.0","method":"tag"}]`,
			want: "[" + answer(2, "b") + "]",
		},
		{
			name: "a nested array is an invalid request",
			req:  `[[]]`,
			want: `[{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: a request must be an object"},"id":null}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.maxBatch)
			ctx, cancel := context.WithTimeout(context.WithValue(t.Context(), key{}, "request"), 10*time.Second)
			defer cancel()
			if got := s.Handle(ctx, []byte(tt.req)); string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestHandleBodyLimit(t *testing.T) {
	s := NewServer(ServerConfig{MaxBodyBytes: 64, Logger: testLogger(t)})
	const call = `{"jsonrpc":"2.0","method":"nope","id":1}`
	tests := []struct {
		name string
		body string
		want string
	}{
		{"at the limit", call + strings.Repeat(" ", 64-len(call)),
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found: \"nope\""},"id":1}`},
		{"over the limit", call + strings.Repeat(" ", 65-len(call)),
			`{"jsonrpc":"2.0","error":{"code":-32004,"message":"request body exceeds the limit of 64 bytes"},"id":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Handle(t.Context(), []byte(tt.body)); string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestServeHTTP(t *testing.T) {
	const call = `{"jsonrpc":"2.0","method":"subtract","params":{"minuend":5,"subtrahend":2},"id":1}`
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		chunked     bool // send no Content-Length
		wantStatus  int
		wantHeader  map[string]string
		wantBody    string // exact; "" for an empty body; "*" for any
	}{
		{name: "call", method: "POST", contentType: "application/json", body: call,
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/json"}, wantBody: `{"jsonrpc":"2.0","result":3,"id":1}`},
		{name: "no content type is accepted", method: "POST", body: call,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","result":3,"id":1}`},
		{name: "content type with a charset", method: "POST", contentType: "application/json; charset=utf-8", body: call,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","result":3,"id":1}`},
		{name: "content type in capitals", method: "POST", contentType: "Application/JSON", body: call,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","result":3,"id":1}`},
		{name: "RPC errors travel with 200", method: "POST", body: `{"jsonrpc":"2.0","method":"nope","id":1}`,
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/json"}, wantBody: "*"},
		{name: "parse errors travel with 200", method: "POST", body: `{`,
			wantStatus: 200, wantBody: "*"},
		{name: "only notifications", method: "POST", body: `[{"jsonrpc":"2.0","method":"notify_hello"},{"jsonrpc":"2.0","method":"update"}]`,
			wantStatus: 204, wantBody: ""},
		{name: "GET", method: "GET",
			wantStatus: 405, wantHeader: map[string]string{"Allow": "POST"}, wantBody: "*"},
		{name: "PUT", method: "PUT", body: call,
			wantStatus: 405, wantHeader: map[string]string{"Allow": "POST"}, wantBody: "*"},
		{name: "text/plain is read as JSON", method: "POST", contentType: "text/plain", body: call,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","result":3,"id":1}`},
		{name: "curl's default form type is read as JSON", method: "POST", contentType: "application/x-www-form-urlencoded", body: call,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","result":3,"id":1}`},
		{name: "xml", method: "POST", contentType: "application/xml", body: call,
			wantStatus: 415, wantBody: "*"},
		{name: "too large, announced", method: "POST", body: strings.Repeat(" ", 200) + call,
			wantStatus: 413, wantHeader: map[string]string{"Content-Type": "application/json"},
			wantBody: `{"jsonrpc":"2.0","error":{"code":-32004,"message":"request body exceeds the limit of 256 bytes"},"id":null}`},
		{name: "too large, chunked", method: "POST", body: strings.Repeat(" ", 200) + call, chunked: true,
			wantStatus: 413, wantBody: `{"jsonrpc":"2.0","error":{"code":-32004,"message":"request body exceeds the limit of 256 bytes"},"id":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := specServer(t)
			s.cfg.MaxBodyBytes = 256
			var body = strings.NewReader(tt.body)
			r := httptest.NewRequestWithContext(t.Context(), tt.method, "/rpc", body)
			if tt.chunked {
				r.ContentLength = -1
			}
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body)
			}
			for k, v := range tt.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			switch tt.wantBody {
			case "*":
				if w.Body.Len() == 0 {
					t.Errorf("empty body")
				}
			default:
				if w.Body.String() != tt.wantBody {
					t.Errorf("body %q, want %q", w.Body, tt.wantBody)
				}
			}
		})
	}
}

func TestMethods(t *testing.T) {
	s, _ := specServer(t)
	var names []string
	for _, m := range s.Methods() {
		names = append(names, m.Name)
	}
	want := []string{"get_data", "notify_hello", "rpc.discover", "subtract", "sum", "update"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("methods %v, want %v", names, want)
	}
	m := s.Methods()[3]
	if m.Summary != "minuend - subtrahend" || m.Params != reflect.TypeFor[subtractParams]() || m.Result != reflect.TypeFor[int]() {
		t.Fatalf("subtract: %+v", m)
	}
}

func TestRegisterPanics(t *testing.T) {
	ok := func(context.Context, *struct{}) (*int, error) { return nil, nil }
	tests := []struct {
		name string
		reg  func(s *Server)
		want string
	}{
		{"twice", func(s *Server) { Register(s, "a", "", ok); Register(s, "a", "", ok) }, `"a" registered twice`},
		{"reserved prefix", func(s *Server) { Register(s, "rpc.mine", "", ok) }, "reserved"},
		{"empty name", func(s *Server) { Register(s, "", "", ok) }, "empty method name"},
		{"nil function", func(s *Server) { Register[struct{}, int](s, "a", "", nil) }, "nil function"},
		{"params not a struct", func(s *Server) {
			Register(s, "a", "", func(context.Context, *[]int) (*int, error) { return nil, nil })
		}, "not a struct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), tt.want) {
					t.Fatalf("panic %v, want one containing %q", v, tt.want)
				}
			}()
			tt.reg(NewServer(DefaultServerConfig()))
		})
	}
}

func TestServerConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ServerConfig
		wantErr bool
	}{
		{"default", DefaultServerConfig(), false},
		{"zero", ServerConfig{}, false},
		{"negative body", ServerConfig{MaxBodyBytes: -1}, true},
		{"negative batch", ServerConfig{MaxBatch: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Fatalf("Validate: %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			s := NewServer(tt.cfg)
			if s.cfg.MaxBodyBytes != 4<<20 || s.cfg.MaxBatch != 128 || s.log == nil {
				t.Fatalf("defaults not applied: %+v", s.cfg)
			}
		})
	}
}

// TestRegisterWhileServing registers methods while calls run; -race
// checks the registry's copy-on-write.
func TestRegisterWhileServing(t *testing.T) {
	s, _ := specServer(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			Register(s, fmt.Sprint("m", i), "", func(context.Context, *struct{}) (*int, error) { return &i, nil })
		}
	})
	for range 50 {
		got := s.Handle(t.Context(), []byte(`{"jsonrpc":"2.0","method":"subtract","id":1}`))
		if string(got) != `{"jsonrpc":"2.0","result":0,"id":1}` {
			t.Fatalf("got %s", got)
		}
	}
	wg.Wait()
	if got := s.Handle(t.Context(), []byte(`{"jsonrpc":"2.0","method":"m49","id":1}`)); string(got) != `{"jsonrpc":"2.0","result":49,"id":1}` {
		t.Fatalf("got %s", got)
	}
}

func BenchmarkHandleSingle(b *testing.B) {
	// federated: a server with RemoteDC set, so every call's params are
	// scanned for a "dc" naming another datacenter (none here).
	for _, federated := range []bool{false, true} {
		b.Run(fmt.Sprintf("federated=%v", federated), func(b *testing.B) { benchmarkHandleSingle(b, federated) })
	}
}

func benchmarkHandleSingle(b *testing.B, federated bool) {
	cfg := ServerConfig{Logger: testLogger(b)}
	if federated {
		cfg.DC = "dc1"
		cfg.RemoteDC = func(context.Context, string, []byte) ([]byte, error) {
			b.Fatal("forwarded")
			return nil, nil
		}
	}
	s := NewServer(cfg)
	res := &KVGetResult{Entry: &KVEntry{Key: "app/web/config", Value: []byte("hello"), CreateIndex: 3, ModifyIndex: 9}, ReadMeta: ReadMeta{Index: 9}}
	Register(s, MethodKVGet, "", func(_ context.Context, p *KVGetParams) (*KVGetResult, error) {
		return res, nil
	})
	body := []byte(`{"jsonrpc":"2.0","method":"kv.get","params":{"key":"app/web/config","consistency":"stale"},"id":42}`)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if s.Handle(ctx, body) == nil {
			b.Fatal("no answer")
		}
	}
}

func BenchmarkHandleBatch(b *testing.B) {
	s := NewServer(ServerConfig{Logger: testLogger(b)})
	Register(s, MethodKVPut, "", func(_ context.Context, p *KVPutParams) (*KVPutResult, error) {
		return &KVPutResult{OK: true, Index: 7}, nil
	})
	var calls []string
	for i := range 16 {
		calls = append(calls, fmt.Sprintf(`{"jsonrpc":"2.0","method":"kv.put","params":{"key":"app/k%d","value":"aGVsbG8="},"id":%d}`, i, i))
	}
	body := []byte("[" + strings.Join(calls, ",") + "]")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if s.Handle(ctx, body) == nil {
			b.Fatal("no answer")
		}
	}
}

func BenchmarkServeHTTPParallel(b *testing.B) {
	s := NewServer(ServerConfig{Logger: testLogger(b)})
	Register(s, MethodKVGet, "", func(_ context.Context, p *KVGetParams) (*KVGetResult, error) {
		return &KVGetResult{ReadMeta: ReadMeta{Index: 9}}, nil
	})
	body := `{"jsonrpc":"2.0","method":"kv.get","params":{"key":"app/web/config"},"id":42}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/rpc", strings.NewReader(body))
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}
