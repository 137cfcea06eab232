package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gateServer answers kv.put with the key's length as the index; a put of
// "gate" waits until gate is closed. It counts HTTP requests and calls.
type gateServer struct {
	srv      *httptest.Server
	gate     chan struct{}
	entered  chan struct{}
	requests atomic.Int64
	calls    atomic.Int64
}

func newGateServer(t *testing.T) *gateServer {
	g := &gateServer{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	s := NewServer(ServerConfig{Logger: testLogger(t)})
	Register(s, MethodKVPut, "Writes one key.", func(ctx context.Context, p *KVPutParams) (*KVPutResult, error) {
		g.calls.Add(1)
		switch p.Key {
		case "gate":
			g.entered <- struct{}{}
			select {
			case <-g.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case "bad":
			return nil, InvalidParams("field \"key\": bad on purpose")
		}
		return &KVPutResult{OK: true, Index: uint64(len(p.Key))}, nil
	})
	// A blocking kv.get (index set) waits for the gate too.
	Register(s, MethodKVGet, "Reads one key.", func(ctx context.Context, p *KVGetParams) (*KVGetResult, error) {
		g.calls.Add(1)
		if p.Index > 0 {
			g.entered <- struct{}{}
			select {
			case <-g.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return &KVGetResult{ReadMeta: ReadMeta{Index: p.Index + 1}}, nil
	})
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// waitQueued waits until n calls wait in the client's lane to url.
func waitQueued(t *testing.T, c *Client, url string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := c.lane(url)
		l.mu.Lock()
		q := len(l.queue)
		l.mu.Unlock()
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// takeTheSlot returns a client with one request slot, which a put of
// "gate" holds until g's gate opens; first has that put's outcome.
func takeTheSlot(t *testing.T, g *gateServer) (*Client, <-chan error) {
	t.Helper()
	c, err := NewClient(ClientConfig{Addrs: []string{g.srv.URL}, Coalesce: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	first := make(chan error, 1)
	go func() { _, err := c.KVPut(context.Background(), &KVPutParams{Key: "gate"}); first <- err }()
	<-g.entered // the only slot is taken
	return c, first
}

func TestCoalesceBatchesWaitingCalls(t *testing.T) {
	g := newGateServer(t)
	c, first := takeTheSlot(t, g)
	ctx := context.Background()

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	idx := make([]uint64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "k" + string(make([]byte, i)) // length i+1: the index tells the answers apart
			if i == 7 {
				key = "bad"
			}
			r, err := c.KVPut(ctx, &KVPutParams{Key: key})
			errs[i] = err
			if r != nil {
				idx[i] = r.Index
			}
		}()
	}
	url := (*c.urls.Load())[0]
	waitQueued(t, c, url, n)
	close(g.gate)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if i == 7 {
			if Code(errs[i]) != CodeInvalidParams {
				t.Errorf("call %d: error %v, want invalid params", i, errs[i])
			}
			continue
		}
		if errs[i] != nil || idx[i] != uint64(i+1) {
			t.Errorf("call %d: index %d err %v, want index %d", i, idx[i], errs[i], i+1)
		}
	}
	if got := g.requests.Load(); got != 2 {
		t.Errorf("%d HTTP requests for %d calls, want 2 (one alone, one batch)", got, n+1)
	}
	if got := g.calls.Load(); got != n+1 {
		t.Errorf("server ran %d calls, want %d", got, n+1)
	}
}

func TestCoalesceAbandonedCall(t *testing.T) {
	g := newGateServer(t)
	c, _ := NewClient(ClientConfig{Addrs: []string{g.srv.URL}, Coalesce: 1})
	defer c.Close()
	go c.KVPut(context.Background(), &KVPutParams{Key: "gate"})
	<-g.entered

	ctx, cancel := context.WithCancel(context.Background())
	res := &KVPutResult{}
	done := make(chan error, 1)
	go func() { done <- c.Call(ctx, MethodKVPut, &KVPutParams{Key: "abc"}, res) }()
	waitQueued(t, c, (*c.urls.Load())[0], 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned call: %v", err)
	}
	close(g.gate)
	// A later call still works, and the abandoned result was not written.
	r, err := c.KVPut(context.Background(), &KVPutParams{Key: "abcd"})
	if err != nil || r.Index != 4 {
		t.Fatalf("next call: %+v %v", r, err)
	}
	if res.Index != 0 {
		t.Fatalf("the abandoned call's result was written: %+v", res)
	}
}

func TestCoalesceServerGone(t *testing.T) {
	g := newGateServer(t)
	c, _ := NewClient(ClientConfig{Addrs: []string{g.srv.URL}, Coalesce: 1})
	defer c.Close()
	go c.KVPut(context.Background(), &KVPutParams{Key: "gate"})
	<-g.entered
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.KVPut(context.Background(), &KVPutParams{Key: fmt.Sprint(i)})
			errs <- err
		}()
	}
	waitQueued(t, c, (*c.urls.Load())[0], 5)
	// No new connections, then drop the open one (the gate's): the batch
	// sent when the gate's call fails finds nobody listening.
	g.srv.Listener.Close()
	g.srv.CloseClientConnections()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("call to a closed server: %v, want unavailable", err)
		}
	}
}

// A blocking read goes alone: it neither takes the lane's only slot nor
// rides in a batch, so other calls do not wait minutes behind it.
func TestCoalesceSkipsBlockingReads(t *testing.T) {
	g := newGateServer(t)
	c := newClient(t, ClientConfig{Addrs: []string{g.srv.URL}, Coalesce: 1})
	ctx := t.Context()
	got := make(chan error, 1)
	go func() {
		res, err := c.KVGet(ctx, &KVGetParams{Key: "k", ReadOptions: ReadOptions{Index: 7}})
		if err == nil && res.Index != 8 {
			err = fmt.Errorf("index %d, want 8", res.Index)
		}
		got <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking read never reached the server")
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.KVPut(ctx, &KVPutParams{Key: "x", Value: []byte("v")})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("put beside a blocking read: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a put waits behind a blocking read (coalesced with it, or queued for its slot)")
	}
	close(g.gate)
	if err := <-got; err != nil {
		t.Fatalf("blocking read: %v", err)
	}
	if n := g.requests.Load(); n != 2 {
		t.Errorf("%d HTTP requests, want 2 (each call its own)", n)
	}
}

// Calls whose bodies together exceed a server's request limit (4 MiB by
// default) are not put in one batch: each would have fit alone, and the
// server would refuse the batch whole (413).
func TestCoalesceBatchesStayUnderTheBodyLimit(t *testing.T) {
	g := newGateServer(t)
	c, first := takeTheSlot(t, g)
	ctx := context.Background()

	const n = 12 // 12 x 400 KiB of values (more as base64): over 4 MiB
	value := make([]byte, 400<<10)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := c.KVPut(ctx, &KVPutParams{Key: fmt.Sprintf("big%d", i), Value: value})
			errs <- err
		}()
	}
	waitQueued(t, c, (*c.urls.Load())[0], n)
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("a put that fits the server's limit alone: %v", err)
		}
	}
	if got := g.requests.Load(); got < 1+n*400*4/3/(maxBatchBytes>>10) {
		t.Errorf("%d HTTP requests: batches larger than %d bytes were sent", got, maxBatchBytes)
	}
}
