// Package check writes Meridian health checks in Go: a check is a function
// that returns a Status, compiled to a WebAssembly module that the edge
// agents run in their sandbox (package meridian/wasm; docs/wasm-abi.md is
// the ABI).
//
// A check registers its function in an init function and has an empty
// main; the package exports the module's entry point, `check`, which calls
// it at every run:
//
//	// Command webhealth passes when GET {"url": ...} answers 200.
//	package main
//
//	import (
//		"errors"
//		"time"
//
//		check "meridian/wasm/sdk/go"
//	)
//
//	func init() { check.Register(run) }
//
//	func main() {} // never runs: the module is a reactor
//
//	func run(c *check.Context) check.Status {
//		var args struct {
//			URL string `json:"url"`
//		}
//		if err := c.Args(&args); err != nil || args.URL == "" {
//			c.Output(`want {"url": "http://..."}`)
//			return check.Critical
//		}
//		resp, err := c.HTTP(check.Request{URL: args.URL, Timeout: 2 * time.Second})
//		switch {
//		case errors.Is(err, check.ErrDenied):
//			c.Outputf("%s is not granted to this check", args.URL) // the output also says so
//			return check.Critical
//		case err != nil:
//			c.Outputf("GET %s: %v", args.URL, err)
//			return check.Critical
//		case resp.Status != 200:
//			c.Outputf("GET %s: HTTP %d", args.URL, resp.Status)
//			return check.Warning
//		}
//		c.Outputf("GET %s: HTTP 200, %d bytes", args.URL, len(resp.Body))
//		return check.Passing
//	}
//
// Build it as a WASI reactor with the standard toolchain (Go 1.24 or
// later):
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o webhealth.wasm .
//
// and register it with the arguments {"url": "http://127.0.0.1:8080/health"}
// and the grant "http://127.0.0.1:8080/health": a network call reaches
// only what the check's grants name (wasm/sdk/README.md).
//
// The Context gives the run's JSON arguments (Args, RawArgs), its output
// (Output, Outputf), the agent's log (Log, Logf) and clock (Now), and the
// network calls of the ABI: HTTP (and Get), TCP and LookupIP. A call the
// host refuses returns an error wrapping one of the ABI's codes: ErrDenied
// (not granted), ErrTimeout, ErrNetwork, ErrTooSmall, ErrInvalid, ErrLimit;
// the runtime also notes the reason in the output. Standard-library
// networking (net/http, net.Dial) does not work in the sandbox: there are
// no WASI sockets.
//
// The imports of the host functions and the `check` export are built only
// for GOOS=wasip1. On other platforms the package still compiles, so a
// check's code builds and vets there too, but nothing calls the registered
// function.
package check
