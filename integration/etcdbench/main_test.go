package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"client deadline", fmt.Errorf("put: %w", context.DeadlineExceeded), "client_timeout"},
		{"canceled", context.Canceled, "canceled"},
		{"grpc unavailable", status.Error(codes.Unavailable, "no leader"), "Unavailable"},
		{"grpc deadline", status.Error(codes.DeadlineExceeded, "slow"), "DeadlineExceeded"},
		{"plain", errors.New("boom"), "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.err); got != tc.want {
				t.Fatalf("errorCode(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad op", []string{"-op", "scan"}, "-op"},
		{"remote endpoint", []string{"-endpoints", "http://192.0.2.1:2379"}, "not a loopback address"},
		{"too many conns", []string{"-clients", "2", "-conns", "3"}, "-conns"},
		{"stray argument", []string{"extra"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr: %s)", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, errb.String())
			}
		})
	}
}
