package examples_test

import (
	"bufio"
	"io"
	"meridian/wasm/wasmtest"
	"net"
	"testing"

	"meridian/wasm"
)

// redisServer answers each line it reads with reply, once.
func redisServer(t *testing.T, reply string) string {
	return wasmtest.TCPServer(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		io.WriteString(c, reply)
	})
}

// TestTCPBanner runs the TCP banner example (Redis PING by default)
// against local servers.
func TestTCPBanner(t *testing.T) {
	pong := redisServer(t, "+PONG\r\n")
	loading := redisServer(t, "-LOADING Redis is loading the dataset in memory\r\n")
	http := redisServer(t, "HTTP/1.1 400 Bad Request\r\n\r\n")
	banner := wasmtest.TCPServer(t, func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n") })
	// hangup reads the PING and closes; silent reads until the check hangs up.
	hangup := redisServer(t, "")
	silent := wasmtest.TCPServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	grants := []string{pong, loading, http, banner, hangup, silent}

	rt := newRuntime(t)
	m := load(t, rt, "tcpbanner")
	for _, tc := range []runCase{
		{name: "pong", args: `{"addr":"` + pong + `"}`, grants: grants,
			status: wasm.Passing, output: pong + `: "+PONG"`},
		{name: "redis error", args: `{"addr":"` + loading + `"}`, grants: grants,
			status: wasm.Warning, output: loading + `: "-LOADING Redis is loading the dataset in memory", want "+PONG"`},
		{name: "not redis", args: `{"addr":"` + http + `"}`, grants: grants,
			status: wasm.Critical, output: http + `: "HTTP/1.1 400 Bad Request", want "+PONG"`},
		{name: "banner", args: `{"addr":"` + banner + `","send":"","expect":"SSH-2.0-"}`, grants: grants,
			status: wasm.Passing, output: banner + `: "SSH-2.0-OpenSSH_9.2"`},
		{name: "hang up", args: `{"addr":"` + hangup + `"}`, grants: grants,
			status: wasm.Critical, output: hangup + `: closed without an answer, want "+PONG"`},
		{name: "timeout", args: `{"addr":"` + silent + `","timeout_ms":200}`, grants: grants,
			status: wasm.Critical,
			output: silent + ": tcp_connect " + silent + ": check: timed out\nmeridian: tcp_connect " + silent + ": timed out"},
		{name: "not granted", args: `{"addr":"` + pong + `"}`, grants: []string{banner},
			status: wasm.Critical,
			output: pong + ": tcp_connect " + pong + ": check: not granted\n" +
				"meridian: tcp_connect " + pong + " refused: not granted (grants: " + banner + ")",
			refused: []string{"tcp_connect " + pong}},
		{name: "bad arguments", args: `["` + pong + `"]`, grants: grants,
			status: wasm.Critical, has: []string{"bad arguments "}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, m) })
	}
}
