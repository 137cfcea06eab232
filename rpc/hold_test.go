package rpc

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestHold: how long a server may hold a call, from typed params and from
// raw JSON, as a client bounding the call must allow for.
func TestHold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params any
		want   time.Duration
	}{
		{"not blocking", &KVGetParams{Key: "a", ReadOptions: ReadOptions{Wait: Duration(time.Minute)}}, 0},
		{"wait given", &KVGetParams{Key: "a", ReadOptions: ReadOptions{Index: 3, Wait: Duration(16 * time.Second)}}, 17 * time.Second},
		{"params by value", HealthServiceParams{Name: "web", ReadOptions: ReadOptions{Index: 3, Wait: Duration(16 * time.Second)}}, 17 * time.Second},
		{"default wait", &KVListParams{ReadOptions: ReadOptions{Index: 3}}, DefaultWait + DefaultWait/16},
		{"over the maximum", &KVListParams{ReadOptions: ReadOptions{Index: 3, Wait: Duration(time.Hour)}}, MaxWait + MaxWait/16},
		{"raw JSON", json.RawMessage(`{"prefix": "app/", "index": 9, "wait": "32s"}`), 34 * time.Second},
		{"raw JSON, not blocking", json.RawMessage(`{"prefix": "app/", "wait": "32s"}`), 0},
		{"raw JSON, bad", json.RawMessage(`{"index": "nine"}`), 0},
		{"no read options", &KVPutParams{Key: "a"}, 0},
		{"nil", nil, 0},
	} {
		if got := HoldFor(tc.params); got != tc.want {
			t.Errorf("%s: HoldFor = %v, want %v", tc.name, got, tc.want)
		}
	}
	for body, want := range map[string]time.Duration{
		`{"jsonrpc": "2.0", "id": 1, "method": "kv.get", "params": {"key": "a", "index": 2, "wait": "16s"}}`: 17 * time.Second,
		`[{"jsonrpc": "2.0", "id": 1, "method": "kv.get", "params": {"key": "a"}},
		  {"jsonrpc": "2.0", "id": 2, "method": "kv.list", "params": {"prefix": "a", "index": 2, "wait": "32s"}}]`: 34 * time.Second,
		`{"jsonrpc": "2.0", "id": 1, "method": "status.leader"}`: 0,
		`not json`: 0,
	} {
		if got := bodyHold([]byte(body)); got != want {
			t.Errorf("bodyHold(%s) = %v, want %v", body, got, want)
		}
	}
}

// TestClientTimeoutLeavesBlockingWait: a Client's Timeout bounds a call's
// own work; a blocking read may take its wait on top, through Call and
// Forward, while a call that does not block still times out.
func TestClientTimeoutLeavesBlockingWait(t *testing.T) {
	checkGoroutines(t)
	s := NewServer(ServerConfig{Logger: testLogger(t)})
	// As a server's blocking read: answer when the wait ends (nothing
	// changes here), or never for a call that does not block.
	Register(s, MethodKVGet, "Reads one key.", func(ctx context.Context, p *KVGetParams) (*KVGetResult, error) {
		wait := p.Wait.Std()
		if p.Index == 0 {
			wait = time.Hour
		}
		select {
		case <-time.After(wait):
			return &KVGetResult{ReadMeta: ReadMeta{Index: p.Index}}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	ts := serve(t, s)
	c := newClient(t, ClientConfig{Addrs: []string{ts.Listener.Addr().String()}, Timeout: time.Second})

	blocking := &KVGetParams{Key: "k", ReadOptions: ReadOptions{Index: 7, Wait: Duration(2 * time.Second)}}
	t.Run("Call", func(t *testing.T) {
		t.Parallel()
		var res KVGetResult
		if err := c.Call(context.Background(), MethodKVGet, blocking, &res); err != nil || res.Index != 7 {
			t.Errorf("a blocking read waiting 2s on a client with a 1s Timeout: %+v, %v; want its answer", res, err)
		}
	})
	t.Run("Forward", func(t *testing.T) {
		t.Parallel()
		body, err := encodeCall(MethodKVGet, blocking, 1)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := c.Forward(context.Background(), body)
		if err != nil || !json.Valid(answer) {
			t.Errorf("a forwarded blocking read waiting 2s on a client with a 1s Timeout: %s, %v; want its answer", answer, err)
		}
	})
	t.Run("not blocking", func(t *testing.T) {
		t.Parallel()
		err := c.Call(context.Background(), MethodKVGet, &KVGetParams{Key: "k"}, nil)
		if err == nil {
			t.Error("a call that never answers returned without error; want the Timeout's")
		}
	})
}
