// Package rpc is Meridian's public contract: the wire types and method
// names of the JSON-RPC 2.0 API, its error codes, the server-side
// dispatcher, the OpenRPC description (rpc.discover) and a typed client.
// It imports nothing else of Meridian, so any program can use it.
//
// # Serving
//
// A Server dispatches requests to typed functions. Params travel as one
// JSON object, decoded strictly (an unknown field is an error) into the
// method's param struct; errors become JSON-RPC error objects through the
// one table in errors.go (ToError).
//
//	s := rpc.NewServer(rpc.DefaultServerConfig())
//	rpc.Register(s, rpc.MethodKVGet, "Reads one key.",
//		func(ctx context.Context, p *rpc.KVGetParams) (*rpc.KVGetResult, error) {
//			if p.Key == "" {
//				return nil, rpc.InvalidParams("key is empty")
//			}
//			return store.Get(ctx, p)
//		})
//	http.Handle("/rpc", s)
//
// Server.Handle serves a body without HTTP, for in-process callers. A
// batch's calls run concurrently, so writes in one batch may share a Raft
// log batch; the answers keep the order of the requests.
//
// # Calling
//
//	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{"10.0.0.1:7500", "10.0.0.2:7500"}})
//	...
//	defer c.Close()
//	res, err := c.KVGet(ctx, &rpc.KVGetParams{Key: "app/web/config"})
//	if errors.Is(err, rpc.ErrNoLeader) { ... }
//
// Call moves to the next address on a connection error; CallRetry also
// retries the errors that Error.Retryable says are worth it, with backoff.
package rpc
