package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"meridian/rpc"
)

// clientFlags are shared by the client verbs.
type clientFlags struct {
	addr    string
	timeout time.Duration
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("MERIDIAN_HTTP_ADDR")
	if def == "" {
		def = "127.0.0.1:7500"
	}
	fs.StringVar(&c.addr, "http-addr", def, "agent address (host:port, comma-separated for several; env MERIDIAN_HTTP_ADDR)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long (retryable errors are retried until then)")
}

func (c *clientFlags) client() (*rpc.Client, context.Context, context.CancelFunc, error) {
	cl, err := rpc.NewClient(rpc.ClientConfig{Addrs: strings.Split(c.addr, ",")})
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	return cl, ctx, cancel, nil
}

func newFlagSet(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func fail(stderr io.Writer, verb string, err error) int {
	fmt.Fprintf(stderr, "meridian %s: %v\n", verb, err)
	return 1
}

func runKV(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Usage: meridian kv put|get|list|delete [flags] ARGS")
		return 2
	}
	switch args[0] {
	case "put":
		return kvPut(args[1:], stdout, stderr)
	case "get":
		return kvGet(args[1:], stdout, stderr)
	case "list", "ls":
		return kvList(args[1:], stdout, stderr)
	case "delete", "del", "rm":
		return kvDelete(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "meridian kv: unknown verb %q (want put, get, list or delete)\n", args[0])
	return 2
}

// optUint is a flag that records whether it was set.
type optUint struct {
	set bool
	v   uint64
}

func (o *optUint) String() string { return fmt.Sprint(o.v) }
func (o *optUint) Set(s string) error {
	_, err := fmt.Sscan(s, &o.v)
	o.set = err == nil
	return err
}

func kvPut(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("kv put", stderr, "meridian kv put [flags] KEY VALUE   (VALUE - reads stdin)")
	var c clientFlags
	c.register(fs)
	flags := fs.Uint64("flags", 0, "opaque flags stored with the key")
	var cas optUint
	fs.Var(&cas, "cas", "write only if the key's modify index is this (0: only if absent)")
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	value := []byte(fs.Arg(1))
	if fs.Arg(1) == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fail(stderr, "kv put", err)
		}
		value = b
	}
	cl, ctx, cancel, err := c.client()
	if err != nil {
		return fail(stderr, "kv put", err)
	}
	defer cancel()
	p := &rpc.KVPutParams{Key: fs.Arg(0), Value: value, Flags: *flags}
	if cas.set {
		p.CAS = &cas.v
	}
	var res rpc.KVPutResult
	if err := cl.CallRetry(ctx, rpc.MethodKVPut, p, &res); err != nil {
		return fail(stderr, "kv put", err)
	}
	if !res.OK {
		fmt.Fprintf(stderr, "meridian kv put: %q not written: its modify index is not %d\n", p.Key, cas.v)
		return 1
	}
	fmt.Fprintf(stdout, "Success! Data written to: %s (index %d)\n", p.Key, res.Index)
	return 0
}

func kvGet(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("kv get", stderr, "meridian kv get [flags] KEY")
	var c clientFlags
	c.register(fs)
	detailed := fs.Bool("detailed", false, "print the entry with its indexes as JSON")
	stale := fs.Bool("stale", false, "read the agent's local replica (may be behind)")
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cl, ctx, cancel, err := c.client()
	if err != nil {
		return fail(stderr, "kv get", err)
	}
	defer cancel()
	p := &rpc.KVGetParams{Key: fs.Arg(0)}
	if *stale {
		p.Consistency = rpc.ConsistencyStale
	}
	var res rpc.KVGetResult
	if err := cl.CallRetry(ctx, rpc.MethodKVGet, p, &res); err != nil {
		return fail(stderr, "kv get", err)
	}
	if res.Entry == nil {
		fmt.Fprintf(stderr, "meridian kv get: no key %q\n", p.Key)
		return 1
	}
	if *detailed {
		return printJSON(stdout, stderr, res.Entry)
	}
	stdout.Write(res.Entry.Value)
	if !bytes.HasSuffix(res.Entry.Value, []byte("\n")) {
		fmt.Fprintln(stdout)
	}
	return 0
}

func kvList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("kv list", stderr, "meridian kv list [flags] [PREFIX]")
	var c clientFlags
	c.register(fs)
	keys := fs.Bool("keys", false, "list key names only")
	sep := fs.String("separator", "", "list one level: keys up to this separator (e.g. /)")
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	cl, ctx, cancel, err := c.client()
	if err != nil {
		return fail(stderr, "kv list", err)
	}
	defer cancel()
	p := &rpc.KVListParams{Prefix: fs.Arg(0), KeysOnly: *keys, Separator: *sep}
	var res rpc.KVListResult
	if err := cl.CallRetry(ctx, rpc.MethodKVList, p, &res); err != nil {
		return fail(stderr, "kv list", err)
	}
	for _, k := range res.Keys {
		fmt.Fprintln(stdout, k)
	}
	for _, e := range res.Entries {
		fmt.Fprintf(stdout, "%s:%s\n", e.Key, e.Value)
	}
	return 0
}

func kvDelete(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("kv delete", stderr, "meridian kv delete [flags] KEY")
	var c clientFlags
	c.register(fs)
	recurse := fs.Bool("recurse", false, "delete every key under the prefix KEY")
	var cas optUint
	fs.Var(&cas, "cas", "delete only if the key's modify index is this")
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cl, ctx, cancel, err := c.client()
	if err != nil {
		return fail(stderr, "kv delete", err)
	}
	defer cancel()
	p := &rpc.KVDeleteParams{Key: fs.Arg(0), Recurse: *recurse}
	if cas.set {
		p.CAS = &cas.v
	}
	var res rpc.KVDeleteResult
	if err := cl.CallRetry(ctx, rpc.MethodKVDelete, p, &res); err != nil {
		return fail(stderr, "kv delete", err)
	}
	if !res.OK {
		fmt.Fprintf(stderr, "meridian kv delete: %q not deleted: its modify index is not %d\n", p.Key, cas.v)
		return 1
	}
	fmt.Fprintf(stdout, "Success! Deleted: %s\n", p.Key)
	return 0
}

func runRPC(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rpc", stderr, "meridian rpc [flags] METHOD [PARAMS_JSON]")
	var c clientFlags
	c.register(fs)
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return 2
	}
	var params json.RawMessage
	if fs.NArg() == 2 {
		params = json.RawMessage(fs.Arg(1))
		if !json.Valid(params) {
			fmt.Fprintf(stderr, "meridian rpc: PARAMS_JSON is not valid JSON: %s\n", fs.Arg(1))
			return 2
		}
	}
	cl, ctx, cancel, err := c.client()
	if err != nil {
		return fail(stderr, "rpc", err)
	}
	defer cancel()
	var res json.RawMessage
	if err := cl.Call(ctx, fs.Arg(0), params, &res); err != nil {
		return fail(stderr, "rpc", err)
	}
	return printJSON(stdout, stderr, res)
}

func printJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fail(stderr, "output", err)
	}
	fmt.Fprintln(stdout, string(b))
	return 0
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", stderr, "meridian status [flags]")
	var c clientFlags
	c.register(fs)
	if fs.Parse(args) != nil {
		return 2
	}
	cl, ctx, cancel, err := c.client()
	if err != nil {
		return fail(stderr, "status", err)
	}
	defer cancel()
	var leader rpc.StatusLeaderResult
	var peers rpc.StatusPeersResult
	var shards rpc.StatusShardsResult
	for _, call := range []struct {
		m   string
		out any
	}{{rpc.MethodStatusLeader, &leader}, {rpc.MethodStatusPeers, &peers}, {rpc.MethodStatusShards, &shards}} {
		if err := cl.CallRetry(ctx, call.m, &rpc.EmptyParams{}, call.out); err != nil {
			return fail(stderr, "status", err)
		}
	}
	fmt.Fprintf(stdout, "Leader (system shard): %s %s\n\n", leader.Node, leader.Leader)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREPLICA\tRAFT ADDRESS")
	for _, p := range peers.Peers {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Node, p.ReplicaID, p.RaftAddr)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nShards as seen by %s:\n", shards.Node)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tKIND\tLEADER\tTERM\tAPPLIED\tREPLICAS")
	for _, s := range shards.Shards {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%v\n", s.ID, s.Kind, s.LeaderNode, s.Term, s.AppliedIndex, s.Replicas)
	}
	tw.Flush()
	return 0
}
