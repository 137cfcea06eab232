// Command meridian is the Meridian binary: the server, edge and dev roles,
// and the client verbs that call a running agent over JSON-RPC.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `Meridian: service discovery, health checking and a replicated KV store.

Usage: meridian <command> [flags] [args]

Agents:
  dev        a single-node cluster on loopback, data in a temp dir
  server     a server of a datacenter (Raft replicas of every shard)
  edge       an edge agent: runs its node's checks, forwards calls to servers

Client (talk to an agent, -http-addr or MERIDIAN_HTTP_ADDR, default 127.0.0.1:7500):
  kv         put, get, list, delete keys; export and import (JSON, as consul kv export)
  rpc        call any JSON-RPC method: meridian rpc METHOD '{"param": ...}'
  status     leader, peers and shards
  services   list services; NAME: its healthy instances; register FILE, deregister ID
  checks     WASM check modules: submit FILE, try MODULE, list, delete MODULE
  members    the gossip pool as the agent sees it (-wan: every datacenter's servers)
  dc         the datacenters, nearest first (kv and services take -dc to use another)
  leave      the agent leaves the datacenter and stops (a server leaves every shard first)
  bench kv   a load generator for the KV API

Run 'meridian <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runAgent("dev", rest, stderr)
	case "server":
		return runAgent("server", rest, stderr)
	case "edge":
		return runAgent("edge", rest, stderr)
	case "kv":
		return runKV(rest, stdout, stderr)
	case "rpc":
		return runRPC(rest, stdout, stderr)
	case "status":
		return runStatus(rest, stdout, stderr)
	case "bench":
		return runBench(rest, stdout, stderr)
	case "members":
		return runMembers(rest, stdout, stderr)
	case "dc":
		return runDC(rest, stdout, stderr)
	case "services":
		return runServices(rest, stdout, stderr)
	case "leave":
		return runLeave(rest, stdout, stderr)
	case "checks":
		return runChecks(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "meridian", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "meridian: unknown command %q\n\n%s", cmd, usage)
	return 2
}

const version = "0.1.0-dev"
