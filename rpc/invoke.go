package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
)

// Transport carries a JSON-RPC body and brings back the answer: a Client
// over HTTP, or a Server in the same process (Server.Forward).
type Transport interface {
	Forward(ctx context.Context, body []byte) ([]byte, error)
}

var (
	_ Transport = (*Client)(nil)
	_ Transport = (*Server)(nil)
)

// Forward serves body in this process, as Handle does; it never fails.
func (s *Server) Forward(ctx context.Context, body []byte) ([]byte, error) {
	return s.Handle(ctx, body), nil
}

var invokeIDs atomic.Uint64

// Invoke calls method over t and decodes the result into result (nil
// discards it). An error the server answered is returned as an *Error.
func Invoke(ctx context.Context, t Transport, method string, params, result any) error {
	id := invokeIDs.Add(1)
	body, err := encodeCall(method, params, id)
	if err != nil {
		return err
	}
	answer, err := t.Forward(ctx, body)
	if err != nil {
		return err
	}
	var discard json.RawMessage
	r := response{Result: result}
	if result == nil {
		r.Result = &discard
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return fmt.Errorf("rpc: %s: decoding the answer: %w", method, err)
	}
	switch {
	case r.JSONRPC != "2.0":
		return fmt.Errorf("rpc: %s: the answer is not JSON-RPC 2.0", method)
	case r.Error != nil:
		return r.Error
	case string(r.ID) != strconv.FormatUint(id, 10):
		return fmt.Errorf("rpc: %s: answer id %s, want %d", method, r.ID, id)
	}
	return nil
}
