// Command etcdbench is `meridian bench kv` for etcd: the same load
// generator (meridian/integration/loadgen), flags and output, driven through
// etcd's own Go client (go.etcd.io/etcd/client/v3), so integration/bench's
// comparison measures the two stores and not two load tools.
//
// It lives in a module of its own so that Meridian's dependencies do not
// include etcd's client and gRPC.
//
//	go run . -endpoints 127.0.0.1:2379,127.0.0.1:22379 -op get -clients 64
//
// Gets are linearizable by default (etcd's serializable=false), as
// Meridian's "default" consistency is; -consistency stale makes them
// serializable (the member's local state), as Meridian's "stale" is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"meridian/integration/loadgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: etcdbench [flags]

meridian bench kv for etcd: -clients closed-loop workers each keep one Put
or Get in flight for -duration, through etcd's Go client (calls balanced
round robin over -endpoints by the client). Same flags and output as
meridian bench kv; -folders only shapes the key names here (etcd has one
Raft group).

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etcdbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	cfg := loadgen.DefaultConfig()
	cfg.RegisterFlags(fs)
	endpoints := fs.String("endpoints", "127.0.0.1:2379", "etcd client endpoints, host:port or URL, comma-separated")
	conns := fs.Int("conns", 1, "etcd clients (each with its own gRPC connections), shared round robin by the workers")
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "etcdbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "etcdbench: %v\n", err)
		return 2
	}
	if *conns < 1 || *conns > cfg.Clients {
		fmt.Fprintf(stderr, "etcdbench: -conns %d: want 1 to -clients (%d)\n", *conns, cfg.Clients)
		return 2
	}
	eps, err := loadgen.Targets(*endpoints)
	if err != nil {
		fmt.Fprintf(stderr, "etcdbench: -endpoints: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kv, err := newEtcdKV(ctx, eps, *conns, cfg.Consistency == loadgen.ConsistencyStale)
	if err != nil {
		fmt.Fprintf(stderr, "etcdbench: %v\n", err)
		return 1
	}
	defer kv.close()
	fmt.Fprintf(stderr, "key space: %d keys in %d folder(s); etcd %s\n", cfg.Keys, cfg.Folders, strings.Join(eps, ","))
	cfg.Progress = stderr
	cfg.ErrorCode = errorCode
	if err := loadgen.Report(ctx, cfg, kv, "etcd", strings.Join(eps, ","), stdout); err != nil {
		fmt.Fprintf(stderr, "etcdbench: %v\n", err)
		return 1
	}
	return 0
}

// etcdKV is etcd as a loadgen.KV. No retries of ours: the client's own
// (for unavailable endpoints) are etcd's default behaviour.
type etcdKV struct {
	loadgen.RoundRobin[*clientv3.Client]
	getOpts []clientv3.OpOption
}

var _ loadgen.KV = (*etcdKV)(nil)

func newEtcdKV(ctx context.Context, endpoints []string, conns int, serializable bool) (*etcdKV, error) {
	k := &etcdKV{}
	if serializable {
		k.getOpts = append(k.getOpts, clientv3.WithSerializable())
	}
	for range conns {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   endpoints,
			DialTimeout: 5 * time.Second,
			Logger:      zap.NewNop(),
		})
		if err != nil {
			k.close()
			return nil, fmt.Errorf("connecting to %v: %w", endpoints, err)
		}
		k.Clients = append(k.Clients, c)
	}
	// Wait until the cluster answers a linearizable read.
	deadline := time.Now().Add(30 * time.Second)
	for {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := k.Clients[0].Get(wctx, "etcdbench-ping")
		cancel()
		if err == nil {
			return k, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			k.close()
			return nil, fmt.Errorf("etcd at %v does not answer: %w", endpoints, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (k *etcdKV) close() {
	for _, c := range k.Clients {
		c.Close()
	}
}

func (k *etcdKV) Put(ctx context.Context, key string, value []byte) error {
	_, err := k.Next().Put(ctx, key, string(value))
	return err
}

func (k *etcdKV) Get(ctx context.Context, key string) error {
	_, err := k.Next().Get(ctx, key, k.getOpts...)
	return err
}

// errorCode names an error by its gRPC status code.
func errorCode(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "client_timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return s.Code().String()
	}
	return "error"
}
