package wasm

import "errors"

// Sentinel errors. Test for them with errors.Is: the error a function
// returns usually wraps one of them with a message that names what is
// wrong (for example `wasm: import "env"."foo" is not part of the Meridian
// ABI v1`, which wraps ErrImport).
//
// None of them is worth a retry with the same input: a module that fails
// validation fails it again, and a closed Runtime or Module stays closed.
var (
	// ErrClosed: the Runtime was closed.
	ErrClosed = errors.New("wasm: runtime closed")
	// ErrModuleClosed: the Module was closed (Module.Close).
	ErrModuleClosed = errors.New("wasm: module closed")
	// ErrTooLarge: the module is bigger than Config.MaxModuleBytes.
	ErrTooLarge = errors.New("wasm: module too large")
	// ErrNotWasm: the bytes are not a WebAssembly binary module.
	ErrNotWasm = errors.New("wasm: not a WebAssembly module")
	// ErrInvalidModule: the module does not decode, validate or compile.
	ErrInvalidModule = errors.New("wasm: invalid module")
	// ErrImport: the module imports something the sandbox does not offer
	// (a function outside the Meridian ABI and the allowed WASI functions,
	// a function with the wrong signature, a memory, table or global).
	ErrImport = errors.New("wasm: import not allowed")
	// ErrEntryPoint: the module does not export `check` as a function of
	// type () -> i32.
	ErrEntryPoint = errors.New("wasm: no valid check entry point")
	// ErrGrant: a grant is not a URL prefix, a host:port pattern or a DNS
	// name pattern.
	ErrGrant = errors.New("wasm: invalid grant")
	// ErrConfig: the Config is invalid.
	ErrConfig = errors.New("wasm: invalid config")
)

// detailError carries a full message (starting with "wasm: ") and wraps a
// sentinel, so that the message reads naturally and errors.Is still works.
type detailError struct {
	sentinel error
	msg      string
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.sentinel }

func detailf(sentinel error, msg string) error {
	return &detailError{sentinel: sentinel, msg: "wasm: " + msg}
}
