package rpc

import (
	"context"
	"errors"
	"fmt"
)

// JSON-RPC 2.0 error codes. -32768..-32000 is the spec's; -32000..-32099 is
// for the server (Meridian's own codes below).
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603

	// CodeNoLeader: the shard has no leader right now. Retryable.
	CodeNoLeader = -32000
	// CodeTimeout: the call's deadline passed before it completed. Retryable;
	// a write that timed out may or may not have been applied.
	CodeTimeout = -32001
	// CodeUnknownDC: the datacenter is unknown or has no live server.
	CodeUnknownDC = -32002
	// CodeUnavailable: the server is starting or stopping. Retryable.
	CodeUnavailable = -32003
	// CodeTooLarge: the request body or batch exceeds a limit.
	CodeTooLarge = -32004
	// CodeNotFound: the call names something (a check, a service) that
	// does not exist.
	CodeNotFound = -32005
)

// Sentinel errors of the public contract. Servers wrap them with %w; the
// table in Code maps them to JSON-RPC codes at the boundary.
var (
	ErrInvalidParams = errors.New("invalid params")
	ErrNoLeader      = errors.New("no leader for the shard (retryable)")
	ErrTimeout       = errors.New("timed out (retryable)")
	ErrUnavailable   = errors.New("server unavailable (retryable)")
	ErrUnknownDC     = errors.New("unknown datacenter")
	// ErrDCUnreachable is a known datacenter with no live or answering
	// server: CodeUnknownDC too, told apart by data.dc_unreachable (a DNS
	// cache keeps serving what it had, instead of NXDOMAIN).
	ErrDCUnreachable  = errors.New("datacenter unreachable")
	ErrTooLarge       = errors.New("request too large")
	ErrMethodNotFound = errors.New("method not found")
	ErrNotFound       = errors.New("not found")
)

// codeTable maps sentinels to codes; the first match wins.
var codeTable = []struct {
	err  error
	code int
}{
	{ErrInvalidParams, CodeInvalidParams},
	{ErrNoLeader, CodeNoLeader},
	{ErrTimeout, CodeTimeout},
	{context.DeadlineExceeded, CodeTimeout},
	{ErrUnavailable, CodeUnavailable},
	{context.Canceled, CodeUnavailable},
	{ErrDCUnreachable, CodeUnknownDC},
	{ErrUnknownDC, CodeUnknownDC},
	{ErrTooLarge, CodeTooLarge},
	{ErrMethodNotFound, CodeMethodNotFound},
	{ErrNotFound, CodeNotFound},
}

// Error is a JSON-RPC 2.0 error object. It is also a Go error, so a client
// returns it as is and callers test it with errors.Is against the sentinels.
type Error struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Data    *ErrorData `json:"data,omitempty"`
}

// ErrorData says whether a retry may succeed, and for CodeUnknownDC
// whether the datacenter is known but unreachable.
type ErrorData struct {
	Retryable     bool `json:"retryable"`
	DCUnreachable bool `json:"dc_unreachable,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// Is lets errors.Is match a decoded *Error against the sentinels by code.
func (e *Error) Is(target error) bool {
	// A server's answer is never this caller's own context ending.
	if target == context.Canceled || target == context.DeadlineExceeded {
		return false
	}
	if target == ErrDCUnreachable {
		return e.Code == CodeUnknownDC && e.Data != nil && e.Data.DCUnreachable
	}
	for _, row := range codeTable {
		if row.err == target {
			return row.code == e.Code
		}
	}
	return false
}

// Retryable reports whether a retry of the same call may succeed.
func (e *Error) Retryable() bool { return IsRetryable(e.Code) }

// IsRetryable reports whether errors with this code are worth a retry.
func IsRetryable(code int) bool {
	switch code {
	case CodeNoLeader, CodeTimeout, CodeUnavailable:
		return true
	}
	return false
}

// Code returns the JSON-RPC code for err, CodeInternal when none matches.
func Code(err error) int {
	var re *Error
	if errors.As(err, &re) {
		return re.Code
	}
	for _, row := range codeTable {
		if errors.Is(err, row.err) {
			return row.code
		}
	}
	return CodeInternal
}

// ToError turns any error into the JSON-RPC error object sent on the wire.
func ToError(err error) *Error {
	var re *Error
	if errors.As(err, &re) {
		return re
	}
	code := Code(err)
	e := &Error{Code: code, Message: err.Error()}
	if IsRetryable(code) {
		e.Data = &ErrorData{Retryable: true}
	}
	if errors.Is(err, ErrDCUnreachable) {
		e.Data = &ErrorData{DCUnreachable: true}
	}
	return e
}

// InvalidParams returns an error with CodeInvalidParams whose message names
// the field and what was expected.
func InvalidParams(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, args...))
}

// ErrNotFoundf returns an error with CodeNotFound.
func ErrNotFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}
