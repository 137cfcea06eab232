package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// h1Server is a plain HTTP server on loopback that counts the connections
// it accepted.
func h1Server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func h1Post(t *testing.T, tr http.RoundTripper, ctx context.Context, url, body string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = w.Write(b)
}

func TestH1TransportReusesConnections(t *testing.T) {
	srv, conns := h1Server(t, echoBody)
	tr := newH1Transport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	for i := range 20 {
		want := strings.Repeat("x", i*1000)
		got, err := h1Post(t, tr, context.Background(), srv.URL, want)
		if err != nil || got != want {
			t.Fatalf("call %d: got %d bytes, %v; want %d bytes", i, len(got), err, len(want))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 calls one after another used %d connections, want 1", n)
	}
	// A kept connection outlives the deadline of the call that used it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	_, err := h1Post(t, tr, ctx, srv.URL, "d")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // past that deadline
	if _, err := h1Post(t, tr, context.Background(), srv.URL, "e"); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("a connection idle past its last call's deadline was not reused: %d connections, want 1", n)
	}
	// httptrace's GotConn is reported (tests use it to find the socket).
	var got httptrace.GotConnInfo
	ctx = httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { got = i },
	})
	if _, err := h1Post(t, tr, ctx, srv.URL, "t"); err != nil {
		t.Fatal(err)
	}
	if got.Conn == nil || !got.Reused {
		t.Errorf("GotConn reported %+v, want the reused connection", got)
	}
}

func TestH1TransportServerClosedIdle(t *testing.T) {
	srv, conns := h1Server(t, echoBody)
	tr := newH1Transport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	if _, err := h1Post(t, tr, context.Background(), srv.URL, "a"); err != nil {
		t.Fatal(err)
	}
	// The server drops its kept connections (as a restarted one has).
	srv.CloseClientConnections()
	tr.mu.Lock()
	idle := append([]*h1Conn(nil), tr.idle[srv.Listener.Addr().String()]...)
	tr.mu.Unlock()
	if len(idle) != 1 {
		t.Fatalf("%d idle connections kept, want 1", len(idle))
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(idle[0].nc) {
		if time.Now().After(deadline) {
			t.Fatal("alive still true 5 s after the server closed the connection")
		}
		time.Sleep(time.Millisecond)
	}
	// The next call must not be sent on the dead connection.
	got, err := h1Post(t, tr, context.Background(), srv.URL, "b")
	if err != nil || got != "b" {
		t.Fatalf("call after the server closed the idle connection: %q, %v", got, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a new one after the close)", n)
	}
}

func TestH1TransportCancel(t *testing.T) {
	release := make(chan struct{})
	srv, conns := h1Server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("block") {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		echoBody(w, r)
	})
	defer close(release)
	tr := newH1Transport(http.DefaultTransport)
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h1Post(t, tr, ctx, srv.URL+"?block", "x")
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled call still waits for its answer after 10 s")
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h1Post(t, tr, ctx, srv.URL+"?block", "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	// Neither connection goes back to the pool: the next call dials.
	before := conns.Load()
	if got, err := h1Post(t, tr, context.Background(), srv.URL, "y"); err != nil || got != "y" {
		t.Fatalf("call after the cancelled ones: %q, %v", got, err)
	}
	if n := conns.Load(); n != before+1 {
		t.Errorf("connections %d -> %d, want a new one", before, n)
	}
}

func TestH1TransportNotReused(t *testing.T) {
	srv, conns := h1Server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("close") {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Query().Has("empty") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write([]byte(strings.Repeat("z", 100000)))
	})
	tr := newH1Transport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	// A body closed before its end leaves unread bytes on the connection.
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = resp.Body.Read(make([]byte, 10))
	_ = resp.Body.Close()
	if _, err := h1Post(t, tr, context.Background(), srv.URL+"?close", "{}"); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections after a half-read body, want 2", n)
	}
	// Connection: close is honoured.
	if _, err := h1Post(t, tr, context.Background(), srv.URL, "{}"); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections after Connection: close, want 3", n)
	}
	// A 204 has no body to read: its connection is kept.
	for range 3 {
		resp, err := client.Post(srv.URL+"?empty", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d, want 204", resp.StatusCode)
		}
		_ = resp.Body.Close()
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections after three 204s, want 3 (kept)", n)
	}
	tr.CloseIdleConnections()
	if _, err := h1Post(t, tr, context.Background(), srv.URL, "{}"); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 4 {
		t.Errorf("%d connections after CloseIdleConnections, want 4", n)
	}
}

func TestH1TransportHTTPSFallback(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(echoBody))
	defer srv.Close()
	tr := newH1Transport(srv.Client().Transport)
	defer tr.CloseIdleConnections()
	if got, err := h1Post(t, tr, context.Background(), srv.URL, "tls"); err != nil || got != "tls" {
		t.Fatalf("https call: %q, %v", got, err)
	}
}

func TestH1TransportDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tr := newH1Transport(http.DefaultTransport)
	_, err = h1Post(t, tr, context.Background(), "http://"+addr+"/rpc", "{}")
	if op, ok := errors.AsType[*net.OpError](err); !ok || op.Op != "dial" {
		t.Fatalf("call to a closed port: %v, want a dial error (the Client fails over on those)", err)
	}
}

func TestH1TransportSweepsIdle(t *testing.T) {
	var closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(echoBody))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := newH1Transport(http.DefaultTransport)
	tr.idleTimeout = 50 * time.Millisecond
	if _, err := h1Post(t, tr, context.Background(), srv.URL, "a"); err != nil {
		t.Fatal(err)
	}
	// Nothing calls that server again: the idle connection must still be
	// closed, by the sweep.
	deadline := time.Now().Add(10 * time.Second)
	for closed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection is still open 10 s after its 50 ms idle timeout")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr.mu.Lock()
	n, armed := len(tr.idle), tr.sweep != nil
	tr.mu.Unlock()
	if n != 0 || armed {
		t.Errorf("after the sweep: %d hosts with idle connections, sweep armed %v; want none", n, armed)
	}
	// After close, an answered call's connection is not kept.
	tr.close()
	if _, err := h1Post(t, tr, context.Background(), srv.URL, "b"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("call on a closed transport: %v, want net.ErrClosed", err)
	}
}

// BenchmarkTransport compares a JSON-RPC call's cost through h1Transport
// and through http.Transport, 64 callers against one loopback server in
// the same process (so ns/op includes the server's side):
//
//	go test ./rpc -run '^$' -bench Transport -count 5
func BenchmarkTransport(b *testing.B) {
	api := NewServer(DefaultServerConfig())
	Register(api, MethodKVPut, "Writes one key.", func(_ context.Context, p *KVPutParams) (*KVPutResult, error) {
		return &KVPutResult{OK: true, Index: 42}, nil
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1", newH1Transport(newTransport())},
		{"net-http", newTransport()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := NewClient(ClientConfig{Addrs: []string{srv.URL}, HTTPClient: &http.Client{Transport: tc.rt}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p := &KVPutParams{Key: "bench/k", Value: []byte("v")}
				for pb.Next() {
					var res KVPutResult
					if err := c.Call(context.Background(), MethodKVPut, p, &res); err != nil || !res.OK {
						b.Errorf("call: %v, %+v", err, res)
						return
					}
				}
			})
			tc.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		})
	}
}

// A peer that sends headers without end gets an error once they pass
// maxHeaderBytes; the client does not buffer them all.
func TestH1TransportHeaderLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Read(make([]byte, 4096)) // the request
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := []byte("X-Filler: " + strings.Repeat("y", 1000) + "\r\n")
		for sent := 0; sent < 2*maxHeaderBytes; sent += len(line) {
			if _, err := c.Write(line); err != nil {
				return // the client gave up, as it should
			}
		}
	}()
	tr := newH1Transport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = h1Post(t, tr, ctx, "http://"+ln.Addr().String()+"/rpc", "{}")
	if !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("endless headers: %v, want the header limit's error", err)
	}
}

// cannedServer answers every POST on loopback with a kv.get answer of a
// 128-byte value carrying the request's id, written by hand with no
// net/http on its side, so that a benchmark against it measures the
// client's cost per call.
func cannedServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	value := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("v"), 128))
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				var out []byte
				for {
					n := -1
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						if v, ok := bytes.CutPrefix(bytes.ToLower(line), []byte("content-length:")); ok {
							n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
						}
					}
					body := make([]byte, n)
					if _, err := io.ReadFull(br, body); err != nil {
						return
					}
					i := bytes.LastIndex(body, []byte(`"id":`))
					id := body[i+5 : len(body)-1]
					answer := fmt.Sprintf(`{"jsonrpc":"2.0","result":{"entry":{"key":"bench/k00042","value":%q,"flags":0,"create_index":12,"modify_index":34,"lock_index":0},"index":34},"id":%s}`, value, id)
					out = fmt.Appendf(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nDate: Tue, 08 Dec 2026 00:00:00 GMT\r\n\r\n%s", len(answer), answer)
					if _, err := nc.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkClientKVGet is the client's side of a kv.get: 64 callers
// against cannedServer, whose own work is a read and a write per call.
//
//	go test ./rpc -run '^$' -bench ClientKVGet -count 6
func BenchmarkClientKVGet(b *testing.B) {
	addr := cannedServer(b)
	c, err := NewClient(ClientConfig{Addrs: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := &KVGetParams{Key: "bench/k00042"}
		for pb.Next() {
			res, err := c.KVGet(context.Background(), p)
			if err != nil || res.Entry == nil || len(res.Entry.Value) != 128 {
				b.Errorf("call: %v, %+v", err, res)
				return
			}
		}
	})
}
