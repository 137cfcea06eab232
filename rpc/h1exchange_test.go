package rpc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer answers each request on loopback with answer(request) written
// as is, then closes the connection if the answer says so by returning
// close. It records every request it read, head and body.
type rawServer struct {
	addr     string
	conns    atomic.Int32
	mu       sync.Mutex
	requests []string
}

func newRawServer(t *testing.T, answer func(req string) (raw string, close bool)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &rawServer{addr: ln.Addr().String()}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					var head strings.Builder
					n := 0
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
						if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length:"); ok {
							n, _ = strconv.Atoi(strings.TrimSpace(v))
						}
					}
					body := make([]byte, n)
					if _, err := io.ReadFull(br, body); err != nil {
						return
					}
					req := head.String() + string(body)
					s.mu.Lock()
					s.requests = append(s.requests, req)
					s.mu.Unlock()
					raw, closeAfter := answer(req)
					if _, err := io.WriteString(nc, raw); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *rawServer) lastRequest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return ""
	}
	return s.requests[len(s.requests)-1]
}

// idOf is the id of the JSON-RPC request in req.
func idOf(req string) string {
	i := strings.LastIndex(req, `"id":`)
	return strings.TrimSuffix(req[i+5:], "}")
}

const putResult = `{"jsonrpc":"2.0","id":%s,"result":{"ok":true,"index":7}}`

func withID(format, req string) string { return strings.Replace(format, "%s", idOf(req), 1) }

func contentLength(body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// The answer framings a server or a proxy in front of it may use all give
// the call its result, and the connection is kept only when the framing
// allows it.
func TestLeanPathAnswerFramings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(req string) (string, bool)
		conns  int32 // after three calls
	}{
		{"content-length", func(req string) (string, bool) {
			return contentLength(withID(putResult, req)), false
		}, 1},
		{"chunked, extensions and trailer", func(req string) (string, bool) {
			body := withID(putResult, req)
			return "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
				strconv.FormatInt(5, 16) + ";ext=1\r\n" + body[:5] + "\r\n" +
				strconv.FormatInt(int64(len(body)-5), 16) + "\r\n" + body[5:] + "\r\n0\r\nX-Trailer: 1\r\n\r\n", false
		}, 1},
		{"bare line ends, header case", func(req string) (string, bool) {
			body := withID(putResult, req)
			return "HTTP/1.1 200 OK\ncontent-length:   " + strconv.Itoa(len(body)) + "  \nCONTENT-TYPE: application/json\n\n" + body, false
		}, 1},
		{"connection: close", func(req string) (string, bool) {
			body := withID(putResult, req)
			return "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body, true
		}, 3},
		{"until the connection closes", func(req string) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + withID(putResult, req), true
		}, 3},
		{"HTTP/1.0", func(req string) (string, bool) {
			body := withID(putResult, req)
			return "HTTP/1.0 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body, true
		}, 3},
		{"HTTP/1.0 keep-alive", func(req string) (string, bool) {
			body := withID(putResult, req)
			return "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body, false
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, tc.answer)
			c, err := NewClient(ClientConfig{Addrs: []string{s.addr}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i := range 3 {
				res, err := c.KVPut(t.Context(), &KVPutParams{Key: "k", Value: []byte("v")})
				if err != nil || !res.OK || res.Index != 7 {
					t.Fatalf("call %d: %+v, %v", i, res, err)
				}
			}
			if n := s.conns.Load(); n != tc.conns {
				t.Errorf("three calls used %d connections, want %d", n, tc.conns)
			}
		})
	}
}

// A malformed or oversize answer fails the call with an error that says
// what was wrong, and the connection is not used again.
func TestLeanPathRefusesBadAnswers(t *testing.T) {
	long := strings.Repeat("x", 20<<10)
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"status line", "HTP/1.1 200 OK\r\n\r\n", "status line"},
		{"status code", "HTTP/1.1 2x0 OK\r\n\r\n", "status line"},
		{"informational", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "informational status 103"},
		{"header without colon", "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n", "header line"},
		{"folded header", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "header line"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "Content-Length"},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
		{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"},
		{"chunk without line end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "line end after a chunk"},
		{"long header line", "HTTP/1.1 200 OK\r\nX: " + long + "\r\n\r\n", "a line longer than"},
		{"over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 300000000\r\n\r\n", "exceed the client's limit"},
		{"chunk over the limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000001\r\n", "exceeds the client's limit"},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}", "unexpected EOF"},
		{"truncated large body", "HTTP/1.1 200 OK\r\nContent-Length: 200000000\r\n\r\n{}", "unexpected EOF"},
		{"no answer", "", "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, func(string) (string, bool) { return tc.raw, true })
			c, err := NewClient(ClientConfig{Addrs: []string{s.addr}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.KVPut(t.Context(), &KVPutParams{Key: "k", Value: []byte("v")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("error %v: a call without an answer should match ErrUnavailable", err)
			}
		})
	}
}

// The request the lean path writes: a POST of the JSON body to the URL's
// path, with the client's own header lines (line breaks in a value made
// spaces, a name net/http would refuse left out).
func TestLeanPathRequest(t *testing.T) {
	s := newRawServer(t, func(req string) (string, bool) { return contentLength(withID(putResult, req)), false })
	h := http.Header{}
	h.Set("X-Meridian-Test", "a\r\nInjected: yes")
	h["Bad Name"] = []string{"x"}
	c, err := NewClient(ClientConfig{Addrs: []string{"http://" + s.addr + "/v1/rpc?x=1"}, Header: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.KVPut(t.Context(), &KVPutParams{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	req := s.lastRequest()
	head, body, _ := strings.Cut(req, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if lines[0] != "POST /v1/rpc?x=1 HTTP/1.1" {
		t.Errorf("request line %q", lines[0])
	}
	for _, want := range []string{"Host: " + s.addr, "Content-Type: application/json", "Content-Length: " + strconv.Itoa(len(body)), "X-Meridian-Test: a  Injected: yes"} {
		found := false
		for _, l := range lines[1:] {
			found = found || l == want
		}
		if !found {
			t.Errorf("no header line %q in\n%s", want, head)
		}
	}
	if strings.Contains(head, "Bad Name") || strings.Contains(head, "\r\nInjected") {
		t.Errorf("header lines that should not be there:\n%s", head)
	}
	if !strings.HasPrefix(body, `{"jsonrpc":"2.0","method":"kv.put"`) {
		t.Errorf("body %q", body)
	}
}

func TestLeanTarget(t *testing.T) {
	for _, tc := range []struct {
		url, host, target string
		ok                bool
	}{
		{"http://127.0.0.1:7500/rpc", "127.0.0.1:7500", "/rpc", true},
		{"http://[::1]:7500/rpc?a=b", "[::1]:7500", "/rpc?a=b", true},
		{"http://h:1", "h:1", "/", true},
		{"https://h:1/rpc", "", "", false},
		{"http://user:pw@h:1/rpc", "", "", false},
		{"http://h:1/rpc#frag", "", "", false},
		{"http:///rpc", "", "", false},
	} {
		host, target, ok := leanTarget(tc.url)
		if host != tc.host || target != tc.target || ok != tc.ok {
			t.Errorf("leanTarget(%q) = %q, %q, %v; want %q, %q, %v", tc.url, host, target, ok, tc.host, tc.target, tc.ok)
		}
	}
}

// A cancelled call stops waiting for its answer at once, and the
// connection it was on is not reused.
func TestLeanPathCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	s := newRawServer(t, func(req string) (string, bool) {
		if calls.Add(1) == 1 {
			<-release
		}
		return contentLength(withID(putResult, req)), false
	})
	c, err := NewClient(ClientConfig{Addrs: []string{s.addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = c.KVPut(ctx, &KVPutParams{Key: "k", Value: []byte("v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if _, err := c.KVPut(t.Context(), &KVPutParams{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the one abandoned mid-call must not be reused", n)
	}
}

// pipeConn is a net.Conn whose reads come from a fixed byte string (the
// fuzzer's answer) and whose writes go nowhere: a fake peer.
type pipeConn struct {
	net.Conn
	r *strings.Reader
}

func (p pipeConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// FuzzReadAnswer: whatever a peer sends, readAnswer does not panic, stays
// within its limit, and an answer it accepts is one net/http reads the
// same way (status and body); it may refuse more than net/http does.
//
//	go test ./rpc -run '^$' -fuzz FuzzReadAnswer -fuzztime 1m
func FuzzReadAnswer(f *testing.F) {
	for _, seed := range []string{
		contentLength(`{"jsonrpc":"2.0","id":1,"result":{}}`),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 413 Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
	} {
		f.Add([]byte(seed))
	}
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, raw []byte) {
		pc := &h1Conn{nc: pipeConn{r: strings.NewReader(string(raw))}}
		pc.in.nc = pc.nc
		pc.br = bufio.NewReaderSize(&pc.in, 16<<10)
		a, _, err := pc.readAnswer(limit)
		if err != nil {
			return
		}
		if len(a.body) > limit {
			t.Fatalf("a body of %d bytes past the limit of %d", len(a.body), limit)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(raw))), &http.Request{Method: http.MethodPost})
		if err != nil {
			t.Fatalf("accepted an answer net/http refuses (%v): %q", err, raw)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("accepted an answer whose body net/http cannot read (%v): %q", err, raw)
		}
		if resp.StatusCode != a.status || string(body) != string(a.body) {
			t.Fatalf("read %d %q; net/http reads %d %q, from %q", a.status, a.body, resp.StatusCode, body, raw)
		}
	})
}
