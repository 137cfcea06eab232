package httpfront

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/rpc"
)

type echoParams struct {
	Say string `json:"say"`
}

func TestFront(t *testing.T) {
	api := rpc.NewServer(rpc.DefaultServerConfig())
	rpc.Register(api, "test.echo", "echo", func(_ context.Context, p *echoParams) (*echoParams, error) { return p, nil })
	var ready atomic.Bool
	f, err := New(Config{Addr: "127.0.0.1:0", RPC: api, Ready: ready.Load})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.Serve() }()
	base := "http://" + f.Addr()

	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		ready      bool
		wantStatus int
		wantBody   string
	}{
		{"rpc call", "POST", "/rpc", `{"jsonrpc":"2.0","id":1,"method":"test.echo","params":{"say":"hi"}}`, true, 200, `"result":{"say":"hi"}`},
		{"rpc needs POST", "GET", "/rpc", "", true, 405, ""},
		{"not ready", "GET", "/v1/ready", "", false, 503, "not ready"},
		{"ready", "GET", "/v1/ready", "", true, 200, "ready"},
		{"unknown path", "GET", "/nope", "", true, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ready.Store(tc.ready)
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantBody) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.wantStatus, tc.wantBody)
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v, want nil", err)
	}
	if err := f.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := http.Get(base + "/v1/ready"); err == nil {
		t.Fatal("still answering after Shutdown")
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{Addr: "127.0.0.1:0"}); err == nil {
		t.Fatal("New without an RPC handler succeeded")
	}
	if _, err := New(Config{Addr: "256.0.0.1:1", RPC: http.NotFoundHandler()}); err == nil || !strings.Contains(err.Error(), "256.0.0.1:1") {
		t.Fatalf("bad address: %v, want an error naming it", err)
	}
}

// serve starts a Front for cfg and stops it with the test.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go f.Serve()
	t.Cleanup(func() { f.Close() })
	return f.Addr()
}

// TestBodyTimeout: a body trickled slower than BodyTimeout is cut off; a
// call whose work outlasts BodyTimeout after its body is not.
func TestBodyTimeout(t *testing.T) {
	api := rpc.NewServer(rpc.DefaultServerConfig())
	rpc.Register(api, "test.slow", "works longer than the body timeout", func(ctx context.Context, _ *struct{}) (*string, error) {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(time.Second):
			s := "done"
			return &s, nil
		}
	})
	addr := serve(t, Config{RPC: api, BodyTimeout: 200 * time.Millisecond})

	t.Run("slow work after the body", func(t *testing.T) {
		resp, err := http.Post("http://"+addr+"/rpc", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"test.slow"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"result":"done"`) {
			t.Fatalf("got %d %s, want the result", resp.StatusCode, b)
		}
	})

	t.Run("trickled body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		began := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a stalled body: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("stalled body: HTTP %d, want 400", resp.StatusCode)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Fatalf("stalled body cut after %v, want about 200ms", took)
		}
	})
}

// TestMaxHeaderBytes: a request head over 64 KiB is refused with 431.
func TestMaxHeaderBytes(t *testing.T) {
	addr := serve(t, Config{RPC: http.NotFoundHandler()})
	req, _ := http.NewRequest("POST", "http://"+addr+"/rpc", strings.NewReader("{}"))
	req.Header.Set("X-Big", strings.Repeat("h", 80<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("HTTP %d, want 431", resp.StatusCode)
	}
}
