package check

import (
	"errors"
	"fmt"
)

// Errors of the host calls: the ABI's negative result codes
// (docs/wasm-abi.md, "Error codes"). A call's error wraps one of them with
// the call and its target ("tcp_connect 127.0.0.1:6379: check: not
// granted"); test with errors.Is.
//
// For ErrDenied, ErrTimeout, ErrNetwork, ErrInvalid (network calls) and
// ErrLimit the runtime also adds a line to the check's output, so a check
// need not repeat the reason. Only ErrTimeout and ErrNetwork may go away on
// their own; retrying within the same run spends the run's deadline and
// network budget.
var (
	// ErrDenied (-1): the target is not granted to the check.
	ErrDenied = errors.New("check: not granted")
	// ErrTimeout (-2): the call's own timeout, or the check's deadline,
	// passed.
	ErrTimeout = errors.New("check: timed out")
	// ErrNetwork (-3): connection refused or reset, DNS failure, TLS or
	// HTTP protocol error.
	ErrNetwork = errors.New("check: network error")
	// ErrTooSmall (-4): a buffer cannot hold the answer.
	ErrTooSmall = errors.New("check: buffer too small")
	// ErrInvalid (-5): a malformed request, a bad address or name, an
	// unknown log level.
	ErrInvalid = errors.New("check: invalid request")
	// ErrLimit (-6): a per-run limit is spent (network bytes, log records).
	ErrLimit = errors.New("check: run limit reached")
	// ErrBadAnswer: the host's answer could not be decoded (not expected
	// from a runtime that implements the ABI).
	ErrBadAnswer = errors.New("check: malformed answer from the host")
)

// codeErrors maps the ABI's negative results to the sentinels: the one
// table, as the ABI lists them.
var codeErrors = map[int32]error{
	-1: ErrDenied,
	-2: ErrTimeout,
	-3: ErrNetwork,
	-4: ErrTooSmall,
	-5: ErrInvalid,
	-6: ErrLimit,
}

// IsTemporary reports whether err may go away if the call is made again
// later (a time-out or a network error); a refused target, an invalid
// request or a spent limit will not.
func IsTemporary(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrNetwork)
}

// codeError is the error of a call that returned code (< 0).
func codeError(call, target string, code int32) error {
	sentinel, ok := codeErrors[code]
	if !ok {
		return fmt.Errorf("%s %s: %w (result %d)", call, target, ErrBadAnswer, code)
	}
	if target == "" {
		return fmt.Errorf("%s: %w", call, sentinel)
	}
	return fmt.Errorf("%s %s: %w", call, target, sentinel)
}
