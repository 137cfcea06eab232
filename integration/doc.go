// Package integration holds Meridian's multi-process tests: real
// `meridian server` processes on loopback, started, killed, paused and
// restarted by package integration/cluster, checked the way a user would
// check them (through the JSON-RPC API and the CLI).
//
//	go test ./integration/...                  # the suite (about a minute)
//	go test -short ./integration/...           # without the slow fault tests
//	go test -v -run TestFailoverTiming ./integration -failover.runs=5
//	                                           # the failover figure of docs/performance.md
//
// Nothing here sleeps and hopes: every wait polls a condition with a
// deadline (cluster.Eventually).
package integration
