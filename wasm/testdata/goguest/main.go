// Command goguest is a Meridian health check written in Go, used by the
// tests of package wasm. Build it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared -o ../goguest.wasm .
//
// It reads its JSON arguments, sets its output and returns passing, or
// warning when the arguments are "warn"; it panics when they are "panic".
package main

import "unsafe"

//go:wasmimport meridian set_output
func setOutput(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport meridian args_len
func argsLen() int32

//go:wasmimport meridian args_read
func argsRead(ptr unsafe.Pointer, n uint32) int32

//go:wasmexport check
func check() int32 {
	args := make([]byte, argsLen())
	if len(args) > 0 {
		argsRead(unsafe.Pointer(&args[0]), uint32(len(args)))
	}
	if string(args) == `"panic"` {
		panic("boom")
	}
	msg := "go guest: args " + string(args)
	setOutput(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	if string(args) == `"warn"` {
		return 1
	}
	return 0
}

func main() {}
