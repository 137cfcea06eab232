package wasm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// httpResponse is the JSON http_request writes.
type httpResponse struct {
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	Body       *string           `json:"body"`
	BodyBase64 *string           `json:"body_base64"`
	Truncated  bool              `json:"truncated"`
}

func testServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/health/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Auth", r.Header.Get("Authorization"))
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/health/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("0123456789"), 10000))
	})
	mux.HandleFunc("/health/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/health/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/health", http.StatusFound)
	})
	mux.HandleFunc("/health/escape", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusFound)
	})
	mux.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the ungranted /admin was reached")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func httpArgs(t *testing.T, req map[string]any) json.RawMessage {
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTPRequest(t *testing.T) {
	srv := testServer(t)
	rt := newRuntime(t, Config{})
	m := load(t, rt, "http")
	ctx := context.Background()
	granted := []string{srv.URL + "/health"}
	for _, tc := range []struct {
		name    string
		req     map[string]any
		grants  []string
		lim     Limits
		status  int
		output  string // substring
		refused bool
		check   func(t *testing.T, r httpResponse)
	}{
		{name: "granted", req: map[string]any{"url": srv.URL + "/health"}, grants: granted, status: Passing,
			check: func(t *testing.T, r httpResponse) {
				if r.Status != 200 || r.Body == nil || *r.Body != `{"status":"ok"}` || r.Headers["X-Test"] != "yes" || r.Truncated {
					t.Fatalf("%+v", r)
				}
			}},
		{name: "granted below the prefix", req: map[string]any{"url": srv.URL + "/health/echo?x=1", "method": "POST",
			"body": "ping", "headers": map[string]string{"Authorization": "Bearer t"}}, grants: granted, status: Passing,
			check: func(t *testing.T, r httpResponse) {
				if *r.Body != "ping" || r.Headers["X-Method"] != "POST" || r.Headers["X-Auth"] != "Bearer t" {
					t.Fatalf("%+v", r)
				}
			}},
		{name: "base64 both ways", req: map[string]any{"url": srv.URL + "/health/echo", "method": "PUT",
			"body_base64": base64.StdEncoding.EncodeToString([]byte{0, 1, 255}), "response_base64": true}, grants: granted, status: Passing,
			check: func(t *testing.T, r httpResponse) {
				if r.Body != nil || r.BodyBase64 == nil || *r.BodyBase64 != "AAH/" {
					t.Fatalf("%+v", r)
				}
			}},
		{name: "redirect to a granted URL", req: map[string]any{"url": srv.URL + "/health/moved"}, grants: granted, status: Passing,
			check: func(t *testing.T, r httpResponse) {
				if r.Status != 200 || *r.Body != `{"status":"ok"}` {
					t.Fatalf("%+v", r)
				}
			}},
		{name: "body truncated", req: map[string]any{"url": srv.URL + "/health/big"}, grants: granted,
			lim: Limits{MaxOutput: 64 << 10}, status: Passing,
			check: func(t *testing.T, r httpResponse) {
				if !r.Truncated || len(*r.Body) < 60000 || len(*r.Body) > 65536 {
					t.Fatalf("truncated %v, body %d bytes", r.Truncated, len(*r.Body))
				}
			}},
		{name: "not granted", req: map[string]any{"url": srv.URL + "/admin"}, grants: granted, status: Critical,
			output: "error -1\nmeridian: http_request " + srv.URL + "/admin refused: not granted (grants: " + srv.URL + "/health)", refused: true},
		{name: "no grants", req: map[string]any{"url": srv.URL + "/health"}, status: Critical,
			output: "refused: not granted (grants: none)", refused: true},
		{name: "prefix is segment-wise", req: map[string]any{"url": srv.URL + "/healthz"}, grants: granted, status: Critical,
			output: "error -1", refused: true},
		{name: "dot segments", req: map[string]any{"url": srv.URL + "/health/../admin"}, grants: granted, status: Critical,
			output: "path has . or .. segments", refused: true},
		{name: "other host name", req: map[string]any{"url": strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/health"},
			grants: granted, status: Critical, output: "error -1", refused: true},
		{name: "redirect to an ungranted URL", req: map[string]any{"url": srv.URL + "/health/escape"}, grants: granted,
			status: Critical, output: "http_request redirect to " + srv.URL + "/admin refused", refused: true},
		{name: "timeout", req: map[string]any{"url": srv.URL + "/health/slow", "timeout_ms": 100}, grants: granted,
			status: Critical, output: "error -2\nmeridian: http_request GET " + srv.URL + "/health/slow: timed out"},
		{name: "network byte limit", req: map[string]any{"url": srv.URL + "/health/big"}, grants: granted,
			lim: Limits{MaxNetworkBytes: 5000}, status: Critical, output: "error -6\nmeridian: http_request GET " + srv.URL + "/health/big: network byte limit of 5000 bytes reached"},
		{name: "connection refused", req: map[string]any{"url": "http://127.0.0.1:1/health"}, grants: []string{"http://127.0.0.1:1/"},
			status: Critical, output: "error -3\nmeridian: http_request GET http://127.0.0.1:1/health failed"},
		{name: "unknown field", req: map[string]any{"url": srv.URL + "/health", "header": "x"}, grants: granted,
			status: Critical, output: "error -5\nmeridian: http_request: bad request JSON: json: unknown field \"header\""},
		{name: "bad method", req: map[string]any{"url": srv.URL + "/health", "method": "GE T"}, grants: granted,
			status: Critical, output: "error -5"},
		{name: "invalid grant noted", req: map[string]any{"url": srv.URL + "/health"}, grants: append([]string{"ftp://x/"}, granted...),
			status: Passing, output: `meridian: grant "ftp://x/": a URL grant must be http:// or https:// (ignored)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := m.Run(ctx, Check{Args: httpArgs(t, tc.req), Grants: tc.grants, Limits: tc.lim})
			if res.Status != tc.status || !strings.Contains(res.Output, tc.output) || (len(res.Refused) > 0) != tc.refused {
				t.Fatalf("status %d refused %q output:\n%s\nwant status %d with %q", res.Status, res.Refused, res.Output, tc.status, tc.output)
			}
			if tc.check != nil {
				var r httpResponse
				out, _, _ := strings.Cut(res.Output, "\nmeridian: ")
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatalf("response %q: %v", res.Output, err)
				}
				tc.check(t, r)
			}
		})
	}
}

func TestEncodeHTTPResponse(t *testing.T) {
	h := http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}}
	bodies := [][]byte{
		nil,
		[]byte("plain"),
		[]byte("quotes \" and \\ and \n\t\r and \x01 and é and 日本"),
		{0xff, 0xfe, 'a', 0xc3},
		bytes.Repeat([]byte("é"), 500),
	}
	for _, body := range bodies {
		for _, b64 := range []bool{false, true} {
			for limit := minHTTPResponse; limit < 1200; limit += 7 {
				out := encodeHTTPResponse(503, h, body, b64, limit)
				if len(out) > limit {
					t.Fatalf("%d bytes for a limit of %d", len(out), limit)
				}
				var r httpResponse
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("limit %d: %q: %v", limit, out, err)
				}
				var got []byte
				if b64 {
					got, _ = base64.StdEncoding.DecodeString(*r.BodyBase64)
				} else {
					got = []byte(*r.Body)
				}
				if r.Status != 503 {
					t.Fatalf("%q", out)
				}
				if !r.Truncated && (!b64 && string(got) != validText(body) || b64 && !bytes.Equal(got, body)) {
					t.Fatalf("limit %d: not truncated but body %q != %q", limit, got, body)
				}
				if !r.Truncated && r.Headers["Set-Cookie"] != "a=1, b=2" {
					t.Fatalf("headers lost without truncation: %q", out)
				}
			}
		}
	}
}

// echoServer answers "+PONG\r\n" to whatever it reads, or nothing when
// silent.
func echoServer(t *testing.T, silent bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				if _, err := c.Read(buf); err != nil {
					return
				}
				if silent {
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					c.Read(buf)
					return
				}
				c.Write([]byte("+PONG\r\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

func TestTCPConnect(t *testing.T) {
	addr := echoServer(t, false)
	silent := echoServer(t, true)
	_, port, _ := net.SplitHostPort(addr)
	rt := newRuntime(t, Config{})
	m := load(t, rt, "tcp")
	for _, tc := range []struct {
		name    string
		addr    string
		grants  []string
		lim     Limits
		status  int
		output  string
		refused bool
	}{
		{"granted", addr, []string{addr}, Limits{}, Passing, "+PONG\r\n", false},
		{"any port", addr, []string{"127.0.0.1:*"}, Limits{}, Passing, "+PONG\r\n", false},
		{"not granted", addr, []string{"127.0.0.1:1"}, Limits{}, Critical,
			"error -1\nmeridian: tcp_connect " + addr + " refused: not granted (grants: 127.0.0.1:1)", true},
		{"a DNS grant is not a TCP grant", "localhost:" + port, []string{"localhost"}, Limits{}, Critical, "error -1", true},
		{"URL grant is not a TCP grant", addr, []string{"http://" + addr + "/"}, Limits{}, Critical, "error -1", true},
		{"connection refused", "127.0.0.1:1", []string{"127.0.0.1:1"}, Limits{}, Critical, "error -3", false},
		{"bad address", "nowhere", []string{"*:*"}, Limits{}, Critical, "error -5\nmeridian: tcp_connect: bad address", false},
		{"no byte budget", addr, []string{addr}, Limits{MaxNetworkBytes: 3}, Passing, "+PO", false},
		{"silent peer", silent, []string{silent}, Limits{Timeout: 300 * time.Millisecond}, Critical, "timed out after 300ms", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := m.Run(context.Background(), Check{Args: json.RawMessage(tc.addr), Grants: tc.grants, Limits: tc.lim})
			if res.Status != tc.status || !strings.HasPrefix(res.Output, tc.output) && !strings.Contains(res.Output, tc.output) || (len(res.Refused) > 0) != tc.refused {
				t.Fatalf("status %d refused %q output:\n%q\nwant %d with %q", res.Status, res.Refused, res.Output, tc.status, tc.output)
			}
		})
	}
}

func TestDNSLookup(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := load(t, rt, "dns")
	for _, tc := range []struct {
		name, host string
		grants     []string
		status     int
		output     string
	}{
		{"granted", "localhost", []string{"localhost"}, Passing, "127.0.0.1"},
		{"granted with a trailing dot and case", "LocalHost.", []string{"localhost"}, Passing, "127.0.0.1"},
		{"wildcard", "localhost", []string{"*"}, Passing, "127.0.0.1"},
		{"not granted", "localhost", []string{"example.internal", "localhost:53"}, Critical,
			"error -1\nmeridian: dns_lookup localhost refused: not granted"},
		{"bad name", "local host", []string{"*"}, Critical, "error -5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := m.Run(context.Background(), Check{Args: json.RawMessage(tc.host), Grants: tc.grants})
			if res.Status != tc.status || !strings.Contains(res.Output, tc.output) {
				t.Fatalf("%+v", res)
			}
			if tc.status == Passing {
				var addrs []string
				if err := json.Unmarshal([]byte(res.Output), &addrs); err != nil || len(addrs) == 0 {
					t.Fatalf("output %q: %v", res.Output, err)
				}
			}
		})
	}
}

// validText is body with each invalid byte replaced by U+FFFD.
func validText(body []byte) string {
	var b strings.Builder
	for len(body) > 0 {
		r, n := utf8.DecodeRune(body)
		b.WriteRune(r)
		body = body[n:]
	}
	return b.String()
}
