package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"meridian/rpc"
)

type echoParams struct {
	Say string `json:"say"`
}

// TestForward: methods a server lacks go to Forward as the request object
// received, and its answer is sent as is; batches mix local and forwarded
// calls; notifications get nothing; Forward's errors become JSON-RPC errors.
func TestForward(t *testing.T) {
	upstream := rpc.NewServer(rpc.DefaultServerConfig())
	rpc.Register(upstream, "up.echo", "", func(_ context.Context, p *echoParams) (*echoParams, error) {
		return &echoParams{Say: "up:" + p.Say}, nil
	})
	var (
		mu   sync.Mutex // the calls of a batch run concurrently
		seen []string
	)
	cfg := rpc.DefaultServerConfig()
	cfg.Forward = func(ctx context.Context, req []byte) ([]byte, error) {
		mu.Lock()
		seen = append(seen, string(req))
		mu.Unlock()
		if strings.Contains(string(req), "down.") {
			return nil, fmt.Errorf("no server: %w", rpc.ErrUnavailable)
		}
		return upstream.Handle(ctx, req), nil
	}
	edge := rpc.NewServer(cfg)
	rpc.Register(edge, "local.echo", "", func(_ context.Context, p *echoParams) (*echoParams, error) {
		return &echoParams{Say: "local:" + p.Say}, nil
	})

	tests := []struct {
		name, body, want string
	}{
		{"forwarded as is", `{"jsonrpc":"2.0","id":1,"method":"up.echo","params":{"say":"a"}}`,
			`{"jsonrpc":"2.0","result":{"say":"up:a"},"id":1}`},
		{"local", `{"jsonrpc":"2.0","id":2,"method":"local.echo","params":{"say":"b"}}`,
			`{"jsonrpc":"2.0","result":{"say":"local:b"},"id":2}`},
		{"unknown upstream too", `{"jsonrpc":"2.0","id":3,"method":"nope"}`,
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found: \"nope\""},"id":3}`},
		{"forward error", `{"jsonrpc":"2.0","id":4,"method":"down.x"}`,
			`{"jsonrpc":"2.0","error":{"code":-32003,"message":"no server: server unavailable (retryable)","data":{"retryable":true}},"id":4}`},
		{"batch mixes", `[{"jsonrpc":"2.0","id":5,"method":"up.echo","params":{"say":"c"}},{"jsonrpc":"2.0","id":6,"method":"local.echo","params":{"say":"d"}},{"jsonrpc":"2.0","method":"up.echo"}]`,
			`[{"jsonrpc":"2.0","result":{"say":"up:c"},"id":5},{"jsonrpc":"2.0","result":{"say":"local:d"},"id":6}]`},
		{"invalid requests are not forwarded", `{"jsonrpc":"1.0","id":7,"method":"up.echo"}`,
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: jsonrpc must be \"2.0\""},"id":7}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := edge.Handle(context.Background(), []byte(tc.body))
			if !jsonEqual(t, got, []byte(tc.want)) {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	for _, s := range seen {
		if strings.Contains(s, "local.echo") || strings.Contains(s, `"1.0"`) {
			t.Fatalf("forwarded what it should not have: %s", s)
		}
	}
	// rpc.discover is the edge's own unless ForwardDiscover is set.
	var doc struct {
		Methods []struct{ Name string } `json:"methods"`
	}
	if err := rpc.Invoke(context.Background(), edge, rpc.MethodDiscover, nil, &doc); err != nil || len(doc.Methods) != 1 || doc.Methods[0].Name != "local.echo" {
		t.Fatalf("local rpc.discover: %+v %v", doc, err)
	}
	cfg.ForwardDiscover = true
	edge2 := rpc.NewServer(cfg)
	if err := rpc.Invoke(context.Background(), edge2, rpc.MethodDiscover, nil, &doc); err != nil || len(doc.Methods) != 1 || doc.Methods[0].Name != "up.echo" {
		t.Fatalf("forwarded rpc.discover: %+v %v", doc, err)
	}

	// Invoke over an in-process Transport.
	var out echoParams
	if err := rpc.Invoke(context.Background(), edge, "up.echo", echoParams{Say: "z"}, &out); err != nil || out.Say != "up:z" {
		t.Fatalf("Invoke: %+v %v", out, err)
	}
	if err := rpc.Invoke(context.Background(), edge, "down.y", nil, nil); !errors.Is(err, rpc.ErrUnavailable) {
		t.Fatalf("Invoke of a failing forward: %v", err)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
