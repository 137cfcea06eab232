package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"meridian/rpc"
)

// Register a typed method, then serve JSON-RPC bodies with Handle. The
// same Server is an http.Handler.
func Example() {
	type addParams struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	s := rpc.NewServer(rpc.DefaultServerConfig())
	rpc.Register(s, "math.add", "Adds a and b.", func(ctx context.Context, p *addParams) (*int, error) {
		sum := p.A + p.B
		return &sum, nil
	})

	ctx := context.Background()
	fmt.Printf("%s\n", s.Handle(ctx, []byte(`{"jsonrpc":"2.0","method":"math.add","params":{"a":2,"b":3},"id":1}`)))
	fmt.Printf("%s\n", s.Handle(ctx, []byte(`{"jsonrpc":"2.0","method":"math.add","params":{"a":2,"c":3},"id":2}`)))
	fmt.Printf("%s\n", s.Handle(ctx, []byte(`[{"jsonrpc":"2.0","method":"math.add","params":{"a":1},"id":"x"},{"jsonrpc":"2.0","method":"math.add"}]`)))
	// Output:
	// {"jsonrpc":"2.0","result":5,"id":1}
	// {"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid params: unknown field \"c\""},"id":2}
	// [{"jsonrpc":"2.0","result":1,"id":"x"}]
}

// A Client calls a server over HTTP with typed wrappers; errors the server
// sends back match the sentinels of errors.go.
func ExampleClient() {
	s := rpc.NewServer(rpc.DefaultServerConfig())
	rpc.Register(s, rpc.MethodStatusLeader, "Names the leader.", func(ctx context.Context, p *rpc.EmptyParams) (*rpc.StatusLeaderResult, error) {
		if p.DC != "" {
			return nil, fmt.Errorf("dc %q: %w", p.DC, rpc.ErrUnknownDC)
		}
		return &rpc.StatusLeaderResult{Leader: "127.0.0.1:7300", Node: "n1"}, nil
	})
	ts := httptest.NewServer(s)
	defer ts.Close()

	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{ts.URL + "/"}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	res, err := c.StatusLeader(ctx, nil)
	fmt.Println(res.Leader, err)
	_, err = c.StatusLeader(ctx, &rpc.EmptyParams{DC: "mars"})
	fmt.Println(errors.Is(err, rpc.ErrUnknownDC), err)
	// Output:
	// 127.0.0.1:7300 <nil>
	// true rpc error -32002: dc "mars": unknown datacenter
}
