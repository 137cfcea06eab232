package checks

import (
	"errors"
	"fmt"
	"testing"

	"meridian/rpc"
)

// The package's errors reach JSON-RPC callers with the right codes through
// rpc's own table.
func TestErrorCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"field error", &FieldError{Check: "web", Field: "interval", Problem: "is missing"}, rpc.CodeInvalidParams},
		{"unknown check", fmt.Errorf("%w %q", ErrUnknownCheck, "x"), rpc.CodeInvalidParams},
		{"not ttl", ErrNotTTL, rpc.CodeInvalidParams},
		{"invalid status", ErrInvalidStatus, rpc.CodeInvalidParams},
		{"unsupported kind", ErrUnsupportedKind, rpc.CodeInvalidParams},
		{"closed", ErrClosed, rpc.CodeUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rpc.Code(tc.err); got != tc.code {
				t.Fatalf("rpc.Code(%v) = %d, want %d", tc.err, got, tc.code)
			}
		})
	}
	if errors.Is(ErrUnknownCheck, ErrNotTTL) || !errors.Is(fmt.Errorf("x: %w", ErrNotTTL), ErrNotTTL) {
		t.Fatal("sentinels are not distinct")
	}
}
