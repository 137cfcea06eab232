package checks

import (
	"errors"
	"fmt"

	"meridian/rpc"
)

// Errors of the package. None is worth a retry with the same arguments.
// The ones a caller causes (a bad definition, an unknown check, a wrong
// status) match rpc.ErrInvalidParams under errors.Is, so the JSON-RPC
// boundary maps them to CodeInvalidParams without a table of its own;
// ErrClosed matches rpc.ErrUnavailable (the agent is stopping).
var (
	// ErrInvalidDefinition is wrapped by every *FieldError.
	ErrInvalidDefinition error = paramsError("checks: invalid check definition")
	// ErrUnknownCheck: no check has that ID.
	ErrUnknownCheck error = paramsError("checks: unknown check")
	// ErrNotTTL: UpdateTTL on a check that is not a ttl check.
	ErrNotTTL error = paramsError("checks: not a ttl check")
	// ErrInvalidStatus: a status other than passing, warning or critical.
	ErrInvalidStatus error = paramsError("checks: invalid status")
	// ErrUnsupportedKind: a valid kind this runner is not set up to run
	// (wasm without Config.Modules).
	ErrUnsupportedKind error = paramsError("checks: kind not supported by this runner")
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("checks: invalid config")
	// ErrClosed: the runner is closed.
	ErrClosed error = unavailableError("checks: runner closed")
)

// paramsError is a sentinel that also matches rpc.ErrInvalidParams.
type paramsError string

func (e paramsError) Error() string { return string(e) }

func (e paramsError) Is(target error) bool { return target == rpc.ErrInvalidParams }

// unavailableError is a sentinel that also matches rpc.ErrUnavailable.
type unavailableError string

func (e unavailableError) Error() string { return string(e) }

func (e unavailableError) Is(target error) bool { return target == rpc.ErrUnavailable }

// FieldError says which field of a check definition is wrong and why.
// Field is the JSON name of the field. It matches ErrInvalidDefinition and
// rpc.ErrInvalidParams under errors.Is.
type FieldError struct {
	Check   string // the definition's ID, or its Name when it has no ID
	Field   string // JSON name, e.g. "interval"
	Problem string // e.g. "10ms is under the minimum of 1s"
}

func (e *FieldError) Error() string {
	if e.Check == "" {
		return fmt.Sprintf("check: field %q: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("check %q: field %q: %s", e.Check, e.Field, e.Problem)
}

func (e *FieldError) Unwrap() error { return ErrInvalidDefinition }
