package dns

import "errors"

// Errors returned by the package. Test for them with errors.Is.
var (
	// ErrInvalidConfig wraps every error returned by Config.Validate.
	ErrInvalidConfig = errors.New("dns: invalid config")
	// ErrClosed is returned by Start on a server that was shut down, and
	// by lookups that were waiting when it happened.
	ErrClosed = errors.New("dns: server closed")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("dns: server already started")

	// errUnknownDC: the servers do not know the datacenter named in the
	// query (rpc.ErrUnknownDC). Answered NXDOMAIN, as Consul does.
	errUnknownDC = errors.New("dns: unknown datacenter")
	// errFetchTimeout: the first fetch of an entry did not come back within
	// Config.FetchTimeout. Answered SERVFAIL; the fetch goes on.
	errFetchTimeout = errors.New("dns: timed out waiting for the servers")
)
