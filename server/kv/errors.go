package kv

import "errors"

// Sentinel errors. Functions wrap them with %w and a detail; test with
// errors.Is. None of them is worth a retry: they describe bad input or bad
// bytes, which a second attempt would meet again.
var (
	// ErrInvalidKey: a key is empty, longer than MaxKeyLen, not valid UTF-8,
	// starts with '/' or holds a NUL byte.
	ErrInvalidKey = errors.New("kv: invalid key")

	// ErrMalformedCommand: UnmarshalCommand met bytes that are not a command
	// of a version this package knows, or a command that cannot be applied as
	// it stands (too many transaction operations, a CAS on a delete-tree).
	ErrMalformedCommand = errors.New("kv: malformed command")

	// ErrMalformedResult: DecodeResult met bytes that Result.Encode did not
	// write.
	ErrMalformedResult = errors.New("kv: malformed result")

	// ErrCorruptSnapshot: RestoreSnapshot met a truncated, altered or
	// inconsistent snapshot. The machine is left as it was.
	ErrCorruptSnapshot = errors.New("kv: corrupt snapshot")

	// ErrSnapshotVersion: a snapshot was written by a version of this package
	// that this one cannot read.
	ErrSnapshotVersion = errors.New("kv: unsupported snapshot version")
)
