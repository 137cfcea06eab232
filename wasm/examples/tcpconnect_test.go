package examples_test

import (
	"meridian/wasm/wasmtest"
	"net"
	"testing"

	"meridian/wasm"
)

// TestTCPConnect runs the WAT example against a local listener.
func TestTCPConnect(t *testing.T) {
	open := wasmtest.TCPServer(t, func(c net.Conn) {})
	other := wasmtest.TCPServer(t, func(c net.Conn) {})
	grants := []string{open}

	rt := newRuntime(t)
	m := load(t, rt, "tcpconnect")
	for _, tc := range []runCase{
		{name: "open", args: `{"addr":"` + open + `"}`, grants: grants,
			status: wasm.Passing, output: open + ": connected"},
		{name: "spaces and timeout", args: "{\n  \"timeout_ms\": 1500,\n  \"addr\" : \"" + open + "\"\n}", grants: grants,
			status: wasm.Passing, output: open + ": connected"},
		{name: "not granted", args: `{"addr":"` + other + `"}`, grants: grants,
			status: wasm.Critical,
			output: other + ": cannot connect\n" +
				"meridian: tcp_connect " + other + " refused: not granted (grants: " + open + ")",
			refused: []string{"tcp_connect " + other}},
		{name: "bad arguments", args: `{"address":"` + open + `"}`, grants: grants,
			status: wasm.Critical, output: `bad arguments: want {"addr": "host:port"}`},
		{name: "no arguments", grants: grants,
			status: wasm.Critical, output: `bad arguments: want {"addr": "host:port"}`},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, m) })
	}
}
