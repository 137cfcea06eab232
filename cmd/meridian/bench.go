package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"meridian/integration/loadgen"
	"meridian/rpc"
	"meridian/server/shard"
)

const benchUsage = `Usage: meridian bench kv [flags]

A closed-loop load generator for the KV API: -clients workers each keep one
kv.put or kv.get in flight against the agents of -http-addr (each call to
the leader of its key's shard; -route any: round robin over them), for
-duration. get and mixed loads first write every key of the key space once. A line of progress goes to stderr each second; the
result (ops, ops/s, latency p50/p99/p99.9/max, errors by code) to stdout.

Keys are PREFIXk00000...: all in one top-level folder, which Meridian keeps
in ONE KV shard. To load several shards, spread the keys with -folders N:
"-prefix bench/ -folders 4" uses bench0/, bench1/, bench2/ and bench3/ (with
the default 4 KV shards those four folders land on four different shards;
the mapping is printed before the run).

Only agents on this machine's loopback are accepted, and the run is bounded
by -duration (at most 1h) and -max-ops.

Flags:
`

// runBench runs "meridian bench kv".
func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "kv" {
		fmt.Fprintln(stderr, strings.TrimSuffix(benchUsage, "\nFlags:\n"))
		fmt.Fprintln(stderr, "\nRun 'meridian bench kv -h' for its flags.")
		return 2
	}
	fs := newFlagSet("bench kv", stderr, "")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	cfg := loadgen.DefaultConfig()
	cfg.RegisterFlags(fs)
	addrDef := os.Getenv("MERIDIAN_HTTP_ADDR")
	if addrDef == "" {
		addrDef = "127.0.0.1:7500"
	}
	addrFlag := fs.String("http-addr", addrDef, "agents to load, host:port, comma-separated (env MERIDIAN_HTTP_ADDR)")
	route := fs.String("route", "leader", "leader: send each call to its shard's leader, as rpc.Client's RouteToLeaders does; any: round robin over -http-addr")
	coalesce := fs.Int("coalesce", 0, "at most this many HTTP requests in flight per server and client; calls beyond wait and go out as one JSON-RPC batch (rpc.ClientConfig.Coalesce); 0: one request per call")
	if err := fs.Parse(args[1:]); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meridian bench kv: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "meridian bench kv: %v\n", err)
		return 2
	}
	addrs, err := loadgen.Targets(*addrFlag)
	if err != nil {
		fmt.Fprintf(stderr, "meridian bench kv: -http-addr: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *route != "leader" && *route != "any" {
		fmt.Fprintf(stderr, "meridian bench kv: -route %q: want leader or any\n", *route)
		return 2
	}
	target, err := newBenchKV(addrs, cfg.Consistency, *route == "leader", *coalesce)
	if err != nil {
		return fail(stderr, "bench kv", err)
	}
	defer target.close()
	if err := target.describeShards(ctx, cfg, stderr); err != nil {
		return fail(stderr, "bench kv", err)
	}
	cfg.Progress = stderr
	cfg.ErrorCode = benchErrorCode
	if err := loadgen.Report(ctx, cfg, target, "meridian", strings.Join(addrs, ","), stdout); err != nil {
		return fail(stderr, "bench kv", err)
	}
	return 0
}

// benchKV is Meridian as a loadgen.KV: one client per agent, calls round
// robin over them, no retries (a failed call is counted, not hidden).
type benchKV struct {
	loadgen.RoundRobin[*rpc.Client]
	stale bool
}

var _ loadgen.KV = (*benchKV)(nil)

func newBenchKV(addrs []string, consistency string, toLeaders bool, coalesce int) (*benchKV, error) {
	b := &benchKV{stale: consistency == loadgen.ConsistencyStale}
	for _, a := range addrs {
		c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{a}, RouteToLeaders: toLeaders, Coalesce: coalesce})
		if err != nil {
			b.close()
			return nil, err
		}
		b.Clients = append(b.Clients, c)
	}
	return b, nil
}

func (b *benchKV) close() {
	for _, c := range b.Clients {
		c.Close()
	}
}

func (b *benchKV) Put(ctx context.Context, key string, value []byte) error {
	_, err := b.Next().KVPut(ctx, &rpc.KVPutParams{Key: key, Value: value})
	return err
}

func (b *benchKV) Get(ctx context.Context, key string) error {
	p := &rpc.KVGetParams{Key: key}
	if b.stale {
		p.Consistency = rpc.ConsistencyStale
	}
	_, err := b.Next().KVGet(ctx, p)
	return err
}

// describeShards waits for the first agent to answer and prints which KV
// shard each folder of the key space lands on.
func (b *benchKV) describeShards(ctx context.Context, cfg loadgen.Config, w io.Writer) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var st rpc.StatusShardsResult
	if err := b.Clients[0].CallRetry(wctx, rpc.MethodStatusShards, &rpc.EmptyParams{}, &st); err != nil {
		return fmt.Errorf("asking the agent for its shards: %w", err)
	}
	n := 0
	for _, s := range st.Shards {
		if s.Kind == "kv" {
			n++
		}
	}
	if n == 0 {
		return errors.New("the agent reports no KV shard")
	}
	var parts []string
	used := map[shard.ID]bool{}
	for _, f := range cfg.FolderNames() {
		id := shard.ForKey(f, n)
		used[id] = true
		parts = append(parts, fmt.Sprintf("%s -> %v", f, id))
	}
	fmt.Fprintf(w, "key space: %d keys in %d folder(s) over %d of %d KV shards: %s\n",
		cfg.Keys, cfg.Folders, len(used), n, strings.Join(parts, ", "))
	return nil
}

var benchCodeNames = map[int]string{
	rpc.CodeNoLeader:      "no_leader",
	rpc.CodeTimeout:       "timeout",
	rpc.CodeUnavailable:   "unavailable",
	rpc.CodeTooLarge:      "too_large",
	rpc.CodeInvalidParams: "invalid_params",
	rpc.CodeInternal:      "internal",
}

// benchErrorCode names an error by its JSON-RPC code, or says that no
// answer came.
func benchErrorCode(err error) string {
	if re, ok := errors.AsType[*rpc.Error](err); ok {
		name, ok := benchCodeNames[re.Code]
		if !ok {
			return fmt.Sprint(re.Code)
		}
		return fmt.Sprintf("%d_%s", re.Code, name)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "client_timeout"
	case errors.Is(err, rpc.ErrUnavailable):
		return "no_answer"
	}
	return "transport"
}
