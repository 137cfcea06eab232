//go:build wasip1

package check

import "unsafe"

// The Meridian ABI v1 (docs/wasm-abi.md). Pointers are offsets in the
// module's memory; Go's heap is that memory and does not move, so a
// slice's address can be handed to the host for the call.

//go:wasmimport meridian set_output
func hostSetOutput(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport meridian log
func hostLog(level int32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport meridian args_len
func hostArgsLen() int32

//go:wasmimport meridian args_read
func hostArgsRead(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport meridian now_ms
func hostNowMS() int64

//go:wasmimport meridian http_request
func hostHTTPRequest(reqPtr unsafe.Pointer, reqLen uint32, respPtr unsafe.Pointer, respCap uint32) int32

//go:wasmimport meridian tcp_connect
func hostTCPConnect(addrPtr unsafe.Pointer, addrLen uint32, sendPtr unsafe.Pointer, sendLen uint32, recvPtr unsafe.Pointer, recvCap uint32, timeoutMS int32) int32

//go:wasmimport meridian dns_lookup
func hostDNSLookup(namePtr unsafe.Pointer, nameLen uint32, outPtr unsafe.Pointer, outCap uint32) int32

// wasmCheck is the module's entry point: it runs the registered check.
//
//go:wasmexport check
func wasmCheck() int32 {
	return int32(run(abiHost{}))
}

// abiHost is the real host.
type abiHost struct{}

var _ host = abiHost{}

// ptr is the address of p's first byte, nil for an empty slice.
func ptr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(p))
}

func (abiHost) setOutput(p []byte) int32 { return hostSetOutput(ptr(p), uint32(len(p))) }

func (abiHost) log(level int32, p []byte) int32 { return hostLog(level, ptr(p), uint32(len(p))) }

func (abiHost) argsLen() int32 { return hostArgsLen() }

func (abiHost) argsRead(p []byte) int32 { return hostArgsRead(ptr(p), uint32(len(p))) }

func (abiHost) nowMS() int64 { return hostNowMS() }

func (abiHost) httpRequest(req, resp []byte) int32 {
	return hostHTTPRequest(ptr(req), uint32(len(req)), ptr(resp), uint32(len(resp)))
}

func (abiHost) tcpConnect(addr, send, recv []byte, timeoutMS int32) int32 {
	return hostTCPConnect(ptr(addr), uint32(len(addr)), ptr(send), uint32(len(send)), ptr(recv), uint32(len(recv)), timeoutMS)
}

func (abiHost) dnsLookup(name, out []byte) int32 {
	return hostDNSLookup(ptr(name), uint32(len(name)), ptr(out), uint32(len(out)))
}
