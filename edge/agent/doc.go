// Package agent is the edge agent of a node: it holds the node's own
// services and checks (from -config-dir files and agent.* calls), runs the
// checks, keeps the servers' catalog in line with them (anti-entropy), and
// forwards every other JSON-RPC call to a live server.
//
//	a, err := agent.New(agent.Config{Node: "web-1", Address: "10.0.0.5",
//		Servers: client, ConfigDir: "/etc/meridian.d"})
//	a.Register(api)   // agent.* methods
//	go a.Run(ctx)     // anti-entropy until ctx ends
//	defer a.Close()
//
// The edge is the source of truth for its node: a change is pushed as
// soon as it happens (only what changed: a service with its checks, a
// removal, or a batch of status changes), and a full sync with jitter
// every SyncInterval puts back whatever someone else changed in the
// catalog. Check output alone changing is not pushed; the next status
// change or full sync carries it.
package agent
