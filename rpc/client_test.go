package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/integration/freeport"
)

// toyServer registers every method of types.go with toy handlers.
// kv.get fails with ErrNoLeader for the key "noleader" and waits for its
// context to end for the key "block".
func toyServer(t testing.TB) *Server {
	s := NewServer(ServerConfig{Logger: testLogger(t)})
	Register(s, MethodKVGet, "Reads one key.", func(ctx context.Context, p *KVGetParams) (*KVGetResult, error) {
		switch p.Key {
		case "noleader":
			return nil, fmt.Errorf("kv shard 2: %w", ErrNoLeader)
		case "block":
			<-ctx.Done()
			return nil, ctx.Err()
		case "a":
			return &KVGetResult{Entry: &KVEntry{Key: "a", Value: []byte("hi"), Flags: 3, CreateIndex: 4, ModifyIndex: 5}, ReadMeta: ReadMeta{Index: 5}}, nil
		}
		return &KVGetResult{ReadMeta: ReadMeta{Index: 5}}, nil
	})
	Register(s, MethodKVPut, "Writes one key.", func(_ context.Context, p *KVPutParams) (*KVPutResult, error) {
		if p.Key == "" {
			return nil, InvalidParams("key is empty")
		}
		return &KVPutResult{OK: p.CAS == nil || *p.CAS == 0, Index: uint64(len(p.Value))}, nil
	})
	Register(s, MethodKVList, "Lists keys under a prefix.", func(_ context.Context, p *KVListParams) (*KVListResult, error) {
		return &KVListResult{Keys: []string{p.Prefix + "x", p.Prefix + "y"}, ReadMeta: ReadMeta{Index: 6}}, nil
	})
	Register(s, MethodKVDelete, "Deletes a key or a prefix.", func(_ context.Context, p *KVDeleteParams) (*KVDeleteResult, error) {
		return &KVDeleteResult{OK: p.Recurse, Index: 7}, nil
	})
	Register(s, MethodKVTxn, "Applies operations atomically.", func(_ context.Context, p *KVTxnParams) (*KVTxnResult, error) {
		if len(p.Ops) > MaxTxnOps {
			return nil, fmt.Errorf("%d operations: %w", len(p.Ops), ErrTooLarge)
		}
		res := &KVTxnResult{OK: true, Index: 8}
		for _, op := range p.Ops {
			res.Results = append(res.Results, TxnResult{Verb: op.Verb, Entry: &KVEntry{Key: op.Key, Value: op.Value}})
		}
		return res, nil
	})
	Register(s, MethodStatusLeader, "Names the leader.", func(_ context.Context, p *EmptyParams) (*StatusLeaderResult, error) {
		if p.DC == "mars" {
			return nil, ErrUnknownDC
		}
		return &StatusLeaderResult{Leader: "127.0.0.1:7300", Node: "n1"}, nil
	})
	Register(s, MethodStatusPeers, "Lists the Raft peers.", func(context.Context, *EmptyParams) (*StatusPeersResult, error) {
		return &StatusPeersResult{Peers: []Peer{{Node: "n1", ReplicaID: 1, RaftAddr: "127.0.0.1:7300"}}}, nil
	})
	Register(s, MethodStatusShards, "Describes the shards.", func(context.Context, *EmptyParams) (*StatusShardsResult, error) {
		return &StatusShardsResult{Node: "n1", Shards: []ShardStatus{{ID: 1, Kind: "system", Leader: 1, Replicas: []uint64{1}}}}, nil
	})
	return s
}

// serve runs h on loopback under /rpc until the test ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/rpc", h)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// closedAddr is a loopback address nothing listens on (outside the
// ephemeral range, so no other test's listener takes it meanwhile).
func closedAddr(t testing.TB) string { return freeport.Addr(t) }

func newClient(t *testing.T, cfg ClientConfig) *Client {
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// checkGoroutines fails the test if goroutines of net/http or of this
// package that it started outlive it. Call it first, so that its cleanup
// runs after the others.
func checkGoroutines(t *testing.T) {
	before := goroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var leaked []string
			for id, stack := range goroutines() {
				if _, old := before[id]; !old && (strings.Contains(stack, "net/http.") || strings.Contains(stack, "meridian/rpc.")) &&
					!strings.Contains(stack, "testing.tRunner") {
					leaked = append(leaked, stack)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
		}
	})
}

func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		out[id] = g
	}
	return out
}

func TestClientMethods(t *testing.T) {
	checkGoroutines(t)
	ts := serve(t, toyServer(t))
	c := newClient(t, ClientConfig{Addrs: []string{ts.Listener.Addr().String()}})
	ctx := t.Context()
	zero := uint64(0)
	tests := []struct {
		name string
		call func() (any, error)
		want any
	}{
		{"kv.get", func() (any, error) { return c.KVGet(ctx, &KVGetParams{Key: "a"}) },
			&KVGetResult{Entry: &KVEntry{Key: "a", Value: []byte("hi"), Flags: 3, CreateIndex: 4, ModifyIndex: 5}, ReadMeta: ReadMeta{Index: 5}}},
		{"kv.get absent key", func() (any, error) { return c.KVGet(ctx, &KVGetParams{Key: "b"}) },
			&KVGetResult{ReadMeta: ReadMeta{Index: 5}}},
		{"kv.put", func() (any, error) { return c.KVPut(ctx, &KVPutParams{Key: "a", Value: []byte("four"), CAS: &zero}) },
			&KVPutResult{OK: true, Index: 4}},
		{"kv.list", func() (any, error) { return c.KVList(ctx, &KVListParams{Prefix: "p/"}) },
			&KVListResult{Keys: []string{"p/x", "p/y"}, ReadMeta: ReadMeta{Index: 6}}},
		{"kv.delete", func() (any, error) { return c.KVDelete(ctx, &KVDeleteParams{Key: "p/", Recurse: true}) },
			&KVDeleteResult{OK: true, Index: 7}},
		{"kv.txn", func() (any, error) {
			return c.KVTxn(ctx, &KVTxnParams{Ops: []TxnOp{{Verb: TxnSet, Key: "k", Value: []byte("v")}}})
		}, &KVTxnResult{OK: true, Index: 8, Results: []TxnResult{{Verb: TxnSet, Entry: &KVEntry{Key: "k", Value: []byte("v")}}}}},
		{"status.leader with nil params", func() (any, error) { return c.StatusLeader(ctx, nil) },
			&StatusLeaderResult{Leader: "127.0.0.1:7300", Node: "n1"}},
		{"status.peers", func() (any, error) { return c.StatusPeers(ctx, &EmptyParams{Timeout: Duration(time.Second)}) },
			&StatusPeersResult{Peers: []Peer{{Node: "n1", ReplicaID: 1, RaftAddr: "127.0.0.1:7300"}}}},
		{"status.shards", func() (any, error) { return c.StatusShards(ctx, nil) },
			&StatusShardsResult{Node: "n1", Shards: []ShardStatus{{ID: 1, Kind: "system", Leader: 1, Replicas: []uint64{1}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("rpc.discover", func(t *testing.T) {
		doc, err := c.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			OpenRPC string `json:"openrpc"`
		}
		if err := json.Unmarshal(doc, &d); err != nil || d.OpenRPC != "1.2.6" {
			t.Fatalf("document %.100s: %v", doc, err)
		}
	})
}

func TestClientErrors(t *testing.T) {
	checkGoroutines(t)
	ts := serve(t, toyServer(t))
	small := NewServer(ServerConfig{MaxBodyBytes: 128, Logger: testLogger(t)})
	Register(small, "echo", "", func(_ context.Context, p *struct {
		S string `json:"s"`
	}) (*string, error) {
		return &p.S, nil
	})
	tsSmall := serve(t, small)
	c := newClient(t, ClientConfig{Addrs: []string{ts.URL}})
	cSmall := newClient(t, ClientConfig{Addrs: []string{tsSmall.URL + "/rpc"}})
	cWrongPath := newClient(t, ClientConfig{Addrs: []string{ts.URL + "/nope"}})
	ctx := t.Context()
	tests := []struct {
		name     string
		call     func() error
		wantIs   error
		wantCode int    // 0: not an *Error
		wantMsg  string // a part of the message
	}{
		{"no leader", func() error { _, err := c.KVGet(ctx, &KVGetParams{Key: "noleader"}); return err },
			ErrNoLeader, CodeNoLeader, "kv shard 2"},
		{"unknown dc", func() error { _, err := c.StatusLeader(ctx, &EmptyParams{DC: "mars"}); return err },
			ErrUnknownDC, CodeUnknownDC, "unknown datacenter"},
		{"invalid params from the handler", func() error { _, err := c.KVPut(ctx, &KVPutParams{}); return err },
			ErrInvalidParams, CodeInvalidParams, "key is empty"},
		{"invalid params from decoding", func() error { return c.Call(ctx, MethodKVPut, map[string]any{"key": "k", "flags": "x"}, nil) },
			ErrInvalidParams, CodeInvalidParams, `field "flags": expected uint64, got string`},
		{"method not found", func() error { return c.Call(ctx, "kv.nope", nil, nil) },
			ErrMethodNotFound, CodeMethodNotFound, `"kv.nope"`},
		{"too many operations", func() error { _, err := c.KVTxn(ctx, &KVTxnParams{Ops: make([]TxnOp, MaxTxnOps+1)}); return err },
			ErrTooLarge, CodeTooLarge, "129 operations"},
		{"body over the server's limit: HTTP 413", func() error { return cSmall.Call(ctx, "echo", map[string]string{"s": strings.Repeat("x", 200)}, nil) },
			ErrTooLarge, CodeTooLarge, "limit of 128 bytes"},
		// Far over: the server answers and closes while the client still
		// writes; the answer, not the broken pipe, is the call's.
		{"body far over the server's limit: HTTP 413", func() error {
			return cSmall.Call(ctx, "echo", map[string]string{"s": strings.Repeat("x", 8<<20)}, nil)
		}, ErrTooLarge, CodeTooLarge, "limit of 128 bytes"},
		{"not a JSON-RPC endpoint", func() error { return cWrongPath.Call(ctx, MethodKVGet, nil, nil) },
			nil, 0, "HTTP 404"},
		{"result not a pointer", func() error { return c.Call(ctx, MethodKVGet, nil, KVGetResult{}) },
			nil, 0, "must be a non-nil pointer"},
		{"unencodable params", func() error { return c.Call(ctx, MethodKVGet, map[string]any{"f": func() {}}, nil) },
			nil, 0, "encoding params"},
		{"result of the wrong type", func() error { var n int; return c.Call(ctx, MethodKVGet, nil, &n) },
			nil, 0, "decoding the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("%v is not %v", err, tt.wantIs)
			}
			re, isRPC := errors.AsType[*Error](err)
			switch {
			case tt.wantCode == 0 && isRPC:
				t.Errorf("%v is an *Error", err)
			case tt.wantCode != 0 && (!isRPC || re.Code != tt.wantCode):
				t.Errorf("%v: want code %d", err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("%q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestClientFailover(t *testing.T) {
	checkGoroutines(t)
	var calls [2]atomic.Int64
	live := [2]*httptest.Server{}
	for i := range live {
		s := toyServer(t)
		live[i] = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls[i].Add(1)
			s.ServeHTTP(w, r)
		}))
	}
	addr := func(i int) string { return live[i].Listener.Addr().String() }
	tests := []struct {
		name      string
		addrs     []string
		timeout   time.Duration
		key       string
		wantCalls [2]int64
		wantIs    error // nil: the call succeeds
		wantPref  uint32
	}{
		{name: "first address down", addrs: []string{closedAddr(t), addr(0)}, key: "a", wantCalls: [2]int64{1, 0}, wantPref: 1},
		{name: "two down", addrs: []string{closedAddr(t), closedAddr(t), addr(1)}, key: "a", wantCalls: [2]int64{0, 1}, wantPref: 2},
		{name: "all down", addrs: []string{closedAddr(t), closedAddr(t)}, key: "a", wantIs: ErrUnavailable, wantPref: 0},
		{name: "an RPC error is no reason to move on", addrs: []string{addr(0), addr(1)}, key: "noleader", wantCalls: [2]int64{1, 0}, wantIs: ErrNoLeader},
		{name: "a timeout is no reason to move on", addrs: []string{addr(0), addr(1)}, key: "block", timeout: 50 * time.Millisecond,
			wantCalls: [2]int64{1, 0}, wantIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls[0].Store(0)
			calls[1].Store(0)
			c := newClient(t, ClientConfig{Addrs: tt.addrs, Timeout: tt.timeout})
			_, err := c.KVGet(t.Context(), &KVGetParams{Key: tt.key})
			if tt.wantIs == nil && err != nil || tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("error %v, want %v", err, tt.wantIs)
			}
			if got := [2]int64{calls[0].Load(), calls[1].Load()}; got != tt.wantCalls {
				t.Errorf("calls per server %v, want %v", got, tt.wantCalls)
			}
			if got := c.pref.Load(); got != tt.wantPref {
				t.Errorf("preferred address %d, want %d", got, tt.wantPref)
			}
		})
	}
}

func TestCallRetry(t *testing.T) {
	checkGoroutines(t)
	type params struct {
		FailTimes int64 `json:"fail_times"`
		Code      int   `json:"code"`
	}
	s := NewServer(ServerConfig{Logger: testLogger(t)})
	var attempts atomic.Int64
	Register(s, "flaky", "Fails FailTimes times with Code.", func(_ context.Context, p *params) (*int64, error) {
		n := attempts.Add(1)
		if p.FailTimes < 0 || n <= p.FailTimes {
			return nil, &Error{Code: p.Code, Message: "flaky"}
		}
		return &n, nil
	})
	ts := serve(t, s)
	tests := []struct {
		name         string
		addrs        []string
		p            params
		timeout      time.Duration // of the whole CallRetry
		wantAttempts int64         // -1: at least 2
		wantIs       []error
	}{
		{name: "retryable, then success", p: params{FailTimes: 3, Code: CodeNoLeader}, timeout: 10 * time.Second, wantAttempts: 4},
		{name: "unavailable is retryable", p: params{FailTimes: 1, Code: CodeUnavailable}, timeout: 10 * time.Second, wantAttempts: 2},
		{name: "not retryable", p: params{FailTimes: 5, Code: CodeUnknownDC}, timeout: 10 * time.Second, wantAttempts: 1, wantIs: []error{ErrUnknownDC}},
		{name: "gives up when the context ends", p: params{FailTimes: -1, Code: CodeTimeout}, timeout: 300 * time.Millisecond,
			wantAttempts: -1, wantIs: []error{ErrTimeout, context.DeadlineExceeded}},
		{name: "no server reachable until the context ends", addrs: []string{closedAddr(t)}, timeout: 300 * time.Millisecond,
			wantAttempts: 0, wantIs: []error{ErrUnavailable, context.DeadlineExceeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attempts.Store(0)
			addrs := tt.addrs
			if addrs == nil {
				addrs = []string{ts.URL}
			}
			c := newClient(t, ClientConfig{Addrs: addrs})
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			var n int64
			err := c.CallRetry(ctx, "flaky", tt.p, &n)
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			if len(tt.wantIs) == 0 && err != nil {
				t.Fatal(err)
			}
			got := attempts.Load()
			if tt.wantAttempts == -1 && got < 2 || tt.wantAttempts >= 0 && got != tt.wantAttempts {
				t.Errorf("attempts %d, want %d", got, tt.wantAttempts)
			}
		})
	}
	t.Run("Call does not retry", func(t *testing.T) {
		attempts.Store(0)
		c := newClient(t, ClientConfig{Addrs: []string{ts.URL}})
		err := c.Call(t.Context(), "flaky", params{FailTimes: 1, Code: CodeNoLeader}, nil)
		if !errors.Is(err, ErrNoLeader) || attempts.Load() != 1 {
			t.Fatalf("error %v after %d attempts", err, attempts.Load())
		}
	})
}

func TestClientConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ClientConfig
		wantURL []string
		wantErr string
	}{
		{name: "default", cfg: DefaultClientConfig(), wantURL: []string{"http://127.0.0.1:7500/rpc"}},
		{name: "host:port", cfg: ClientConfig{Addrs: []string{"localhost:7500", "[::1]:7500"}},
			wantURL: []string{"http://localhost:7500/rpc", "http://[::1]:7500/rpc"}},
		{name: "URL without a path", cfg: ClientConfig{Addrs: []string{"http://h:1", "https://h:2/"}},
			wantURL: []string{"http://h:1/rpc", "https://h:2/rpc"}},
		{name: "URL with a path", cfg: ClientConfig{Addrs: []string{"https://h/api/rpc"}}, wantURL: []string{"https://h/api/rpc"}},
		{name: "no address", cfg: ClientConfig{}, wantErr: "no address"},
		{name: "another scheme", cfg: ClientConfig{Addrs: []string{"ftp://h"}}, wantErr: "want host:port"},
		{name: "no host", cfg: ClientConfig{Addrs: []string{"http://"}}, wantErr: "want host:port"},
		{name: "negative timeout", cfg: ClientConfig{Addrs: []string{"h:1"}, Timeout: -time.Second}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !reflect.DeepEqual(c.Addrs(), tt.wantURL) {
				t.Fatalf("urls %v, want %v", c.Addrs(), tt.wantURL)
			}
		})
	}
}

func TestClientClose(t *testing.T) {
	checkGoroutines(t)
	ts := serve(t, toyServer(t))
	var used atomic.Int64
	own := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	tests := []struct {
		name string
		cfg  ClientConfig
	}{
		{"own transport", ClientConfig{Addrs: []string{ts.URL}}},
		{"caller's HTTP client", ClientConfig{Addrs: []string{ts.URL}, HTTPClient: own}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.StatusLeader(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			c.Close()
			c.Close()
			if _, err := c.StatusLeader(t.Context(), nil); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("after Close: %v", err)
			}
		})
	}
	if used.Load() != 1 {
		t.Errorf("the caller's HTTP client made %d calls, want 1", used.Load())
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func BenchmarkClientCall(b *testing.B) {
	s := toyServer(b)
	ts := httptest.NewServer(s)
	defer ts.Close()
	c, err := NewClient(ClientConfig{Addrs: []string{ts.URL + "/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.KVGet(ctx, &KVGetParams{Key: "a"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
