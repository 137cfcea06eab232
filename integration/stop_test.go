package integration

import (
	"context"
	"fmt"
	"net"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

// TestGracefulStop sends SIGTERM to each server in turn, the last one with
// no quorum left: each exits with status 0 within 10 s (cluster.Stop
// asserts both). A blocking read waiting on the first server is answered,
// not cut, when that server stops.
func TestGracefulStop(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 4})
	ctx := within(t, 60*time.Second)
	const key = "stop/watched"
	put, err := c.Client(1).KVPut(ctx, &rpc.KVPutParams{Key: key, Value: []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}

	// A watcher that would wait a minute for a change. Stop only once the
	// server has read its request: before that, a refused or reset
	// connection would be the test's race, not the server's fault.
	type answer struct {
		res *rpc.KVGetResult
		err error
	}
	answered := make(chan answer, 1)
	var localPort atomic.Int64 // of the connection the request went out on
	wrote := make(chan struct{})
	var once sync.Once
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			localPort.Store(int64(info.Conn.LocalAddr().(*net.TCPAddr).Port))
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(wrote) }) },
	}
	go func() {
		res, err := c.Client(0).KVGet(httptrace.WithClientTrace(ctx, trace), &rpc.KVGetParams{Key: key,
			ReadOptions: rpc.ReadOptions{Index: put.Index, Wait: rpc.Duration(time.Minute)}})
		answered <- answer{res, err}
	}()
	select {
	case <-wrote:
	case a := <-answered:
		t.Fatalf("the blocking read returned at once: %+v, %v", a.res, a.err)
	case <-ctx.Done():
		t.Fatal("the blocking read was never sent")
	}
	if canSeeSockets {
		local := int(localPort.Load())
		_, port, _ := net.SplitHostPort(c.HTTPAddr(0))
		remote, _ := strconv.Atoi(port)
		err := cluster.Eventually(within(t, 10*time.Second), "the server to read the blocking request", func(context.Context) error {
			ok, err := requestConsumed(local, remote)
			if err == nil && !ok {
				err = fmt.Errorf("bytes still queued between ports %d and %d", local, remote)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	took := c.Stop(0)
	t.Logf("%s stopped in %v", c.Node(0), took.Round(time.Millisecond))
	select {
	case a := <-answered:
		switch {
		case a.err != nil:
			t.Errorf("the blocked read got %v when %s stopped; want its answer (a stopping server releases blocked readers)", a.err, c.Node(0))
		case a.res.Entry == nil || string(a.res.Entry.Value) != "v1":
			t.Errorf("the blocked read got %+v, want %s=v1", a.res.Entry, key)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the blocked read on %s is still waiting 5s after the server exited", c.Node(0))
	}

	// The others still serve, to a client that knows every server (and
	// tries the stopped one first); then stop them too, the last alone.
	if _, err := putIdempotent(ctx, c.ClientAll(), key, "v2"); err != nil {
		t.Fatalf("write with one of three servers stopped: %v", err)
	}
	for _, i := range []int{1, 2} {
		took := c.Stop(i)
		t.Logf("%s stopped in %v", c.Node(i), took.Round(time.Millisecond))
	}
	for i := range c.N() {
		if c.Running(i) {
			t.Errorf("%s still running", c.Node(i))
		}
	}
}
