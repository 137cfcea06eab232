package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"time"
)

// h1Transport is an http.RoundTripper for plain-HTTP/1.1 JSON-RPC calls
// that does each round trip in the caller's goroutine: it writes the
// request and reads the answer on a pooled connection itself. Through
// RoundTrip, the request and response are written and parsed by net/http
// (Request.Write, http.ReadResponse); the Client's own calls take the
// leaner exchange (h1exchange.go) on the same connections.
//
// Why: http.Transport hands every request to a writer goroutine and every
// answer from a reader goroutine, three goroutines and two wake-ups per
// call. For a client making thousands of small calls a second (an edge
// forwarding, `meridian bench kv`) those hand-offs were most of its CPU;
// see docs/performance.md. Other schemes (https) go to fallback.
type h1Transport struct {
	dialer      net.Dialer
	fallback    http.RoundTripper
	maxIdle     int           // idle connections kept per host
	idleTimeout time.Duration // an idle connection older than this is closed, not reused

	mu     sync.Mutex
	idle   map[string][]*h1Conn // per host, the most recently used last
	closed bool
	sweep  *time.Timer // armed while idle connections exist
}

type h1Conn struct {
	t     *h1Transport
	host  string
	nc    net.Conn
	in    budgetReader // what br reads from
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // when it went idle
	crlf  bool      // the last line read by line ended in CRLF
}

func newH1Transport(fallback http.RoundTripper) *h1Transport {
	return &h1Transport{
		dialer:      dialer,
		fallback:    fallback,
		maxIdle:     maxIdlePerHost,
		idleTimeout: idleTimeout,
		idle:        map[string][]*h1Conn{},
	}
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.fallback.RoundTrip(req)
	}
	pc, reused, err := t.conn(req.Context(), req.URL.Host)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: pc.nc, Reused: reused, WasIdle: reused})
	}
	// Like http.Transport, a POST is not sent again when a kept connection
	// turns out closed: the server may have taken it.
	resp, err := pc.roundTrip(req)
	if err != nil {
		closeBody(req)
	}
	return resp, err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// conn returns an idle connection to host (reused: true), or dials one.
func (t *h1Transport) conn(ctx context.Context, host string) (*h1Conn, bool, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, net.ErrClosed
	}
	for l := t.idle[host]; len(l) > 0; l = t.idle[host] {
		pc := l[len(l)-1]
		t.idle[host] = l[:len(l)-1]
		t.mu.Unlock()
		if time.Since(pc.since) < t.idleTimeout && pc.br.Buffered() == 0 && alive(pc.nc) {
			return pc, true, nil
		}
		_ = pc.nc.Close()
		t.mu.Lock()
	}
	t.mu.Unlock()
	nc, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, false, err
	}
	pc := &h1Conn{t: t, host: host, nc: nc, bw: bufio.NewWriterSize(nc, 16<<10)}
	pc.in.nc = nc
	pc.br = bufio.NewReaderSize(&pc.in, 16<<10)
	return pc, false, nil
}

// maxHeaderBytes caps an answer's status line and headers, as
// http.Transport's MaxResponseHeaderBytes does (with its default).
const maxHeaderBytes = 10 << 20

var errHeaderTooLarge = fmt.Errorf("rpc: the answer's headers exceed %d bytes", maxHeaderBytes)

// budgetReader is the connection as its bufio.Reader sees it: reads fail
// once left bytes have been read, so a peer that sends headers without end
// cannot make the client buffer them all.
type budgetReader struct {
	nc   net.Conn
	left int64
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.nc.Read(p)
	r.left -= int64(n)
	return n, err
}

// put keeps pc for the next call to its host.
func (t *h1Transport) put(pc *h1Conn) {
	pc.since = time.Now()
	// The last call's deadline would otherwise fail the liveness check
	// once it passed, and with it the connection.
	if err := pc.nc.SetDeadline(time.Time{}); err != nil {
		_ = pc.nc.Close()
		return
	}
	t.mu.Lock()
	if t.closed || len(t.idle[pc.host]) >= t.maxIdle {
		t.mu.Unlock()
		_ = pc.nc.Close()
		return
	}
	t.idle[pc.host] = append(t.idle[pc.host], pc)
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout, t.sweepIdle)
	}
	t.mu.Unlock()
}

// sweepIdle closes the connections idle for longer than idleTimeout, so
// that those to a server no longer called (an edge's server list changes)
// do not stay open; it runs again while any remain.
func (t *h1Transport) sweepIdle() {
	cutoff := time.Now().Add(-t.idleTimeout)
	var old []*h1Conn
	t.mu.Lock()
	for host, l := range t.idle {
		n := 0
		for n < len(l) && l[n].since.Before(cutoff) {
			n++
		}
		old = append(old, l[:n]...)
		if n == len(l) {
			delete(t.idle, host)
		} else {
			t.idle[host] = l[n:]
		}
	}
	if len(t.idle) > 0 {
		t.sweep.Reset(t.idleTimeout / 2)
	} else {
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, pc := range old {
		_ = pc.nc.Close()
	}
}

// close closes the idle connections and keeps none from now on.
func (t *h1Transport) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.CloseIdleConnections()
}

// CloseIdleConnections closes the kept connections.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, l := range idle {
		for _, pc := range l {
			_ = pc.nc.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// aLongTimeAgo is a deadline in the past: it wakes a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// arm ties the connection to ctx for one exchange: ctx's deadline is the
// connection's, and cancelling ctx wakes a blocked read or write
// (AfterFunc starts no goroutine unless it fires). stop reports false once
// the cancel fired: the connection's deadline was moved, so it is not
// reused.
func (pc *h1Conn) arm(ctx context.Context) (deadline time.Time, stop func() bool, err error) {
	deadline, _ = ctx.Deadline() // zero: none
	if err := pc.nc.SetDeadline(deadline); err != nil {
		_ = pc.nc.Close()
		return deadline, nil, err
	}
	return deadline, context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(aLongTimeAgo) }), nil
}

// fail closes the connection after a failed exchange and names the cause:
// ctx's, when it ended.
func (pc *h1Conn) fail(ctx context.Context, deadline time.Time, stop func() bool, err error) error {
	stop()
	_ = pc.nc.Close()
	if errors.Is(err, os.ErrDeadlineExceeded) && !deadline.IsZero() {
		// The connection's deadline is the context's: its timer may
		// fire a moment after ours. The error is the context's.
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	return err
}

// earlyAnswer prepares to read the answer after a write failed: the server
// may have answered and closed before it took the whole body (a body over
// its limit gets a 413 with a JSON-RPC error, and that answer is the
// call's; http.Transport also prefers it). It is there at once or not at
// all.
func (pc *h1Conn) earlyAnswer(deadline time.Time) {
	wait := time.Now().Add(time.Second)
	if !deadline.IsZero() && deadline.Before(wait) {
		wait = deadline
	}
	_ = pc.nc.SetReadDeadline(wait)
}

func (pc *h1Conn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline, stop, err := pc.arm(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*http.Response, error) { return nil, pc.fail(ctx, deadline, stop, err) }
	werr := req.Write(pc.bw)
	if werr == nil {
		werr = pc.bw.Flush()
	}
	if werr != nil && ctx.Err() == nil {
		pc.earlyAnswer(deadline)
		resp, err := pc.readResponse(req)
		if err != nil {
			return fail(werr)
		}
		resp.Body = &h1Body{rc: resp.Body, pc: pc, stop: stop}
		return resp, nil
	}
	if werr != nil {
		return fail(werr) // cancelled or past its deadline
	}
	resp, err := pc.readResponse(req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &h1Body{rc: resp.Body, pc: pc, stop: stop, keep: !resp.Close && !req.Close,
		eof: resp.Body == http.NoBody}
	return resp, nil
}

// readResponse reads an answer's head within maxHeaderBytes; its body
// is then the caller's to bound.
func (pc *h1Conn) readResponse(req *http.Request) (*http.Response, error) {
	pc.in.left = maxHeaderBytes
	resp, err := http.ReadResponse(pc.br, req)
	pc.in.left = 1 << 62
	return resp, err
}

// h1Body gives the connection back once the answer was read to its end
// and closed; a body closed early closes the connection.
type h1Body struct {
	rc   io.ReadCloser
	pc   *h1Conn
	stop func() bool
	keep bool
	eof  bool
	done bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *h1Body) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.rc.Close()
	// stop reports false when the context's cancel already fired: the
	// deadline was moved, so the connection is not reused.
	if b.stop() && b.keep && b.eof && err == nil {
		b.pc.t.put(b.pc)
		return nil
	}
	_ = b.pc.nc.Close()
	return err
}
