// Package examples holds example health checks for the Meridian WASM
// sandbox, each a small real check with its source and its built module
// in testdata/:
//
//	httpjson/main.go        Go: GET a JSON health endpoint, compare a field ("status" == "ok")
//	httpjson_as/index.ts    the same in AssemblyScript
//	tcpbanner/main.go       Go: send a probe over TCP, check the answer (Redis PING → +PONG)
//	dnsresolve/main.go      Go: a name resolves, optionally to expected addresses
//	tcpconnect/*.wat        WebAssembly text: a TCP port accepts connections
//
// Each reads its target from its JSON arguments, so the check's grants
// decide what it may reach. build.sh rebuilds testdata/ from the sources;
// the tests prove that the build is reproducible and run every module in a
// wasm.Runtime against servers on 127.0.0.1. The SDKs they use are in
// wasm/sdk (see its README.md).
package examples
