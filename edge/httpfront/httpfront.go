// Package httpfront is an agent's HTTP front door (echo): JSON-RPC at
// POST /rpc, the raw WASM module upload at PUT /v1/modules, and a plain
// readiness probe at GET /v1/ready.
//
// It holds its ground against hostile clients: a request head must arrive
// within 10 s and fit in 64 KiB, a JSON-RPC body within BodyTimeout
// (integration.TestFloodEdge floods an edge to check this; rpc.Server
// itself reserves at most 64 KiB of a body's declared length before the
// bytes arrive).
//
//	f, err := httpfront.New(httpfront.Config{Addr: "127.0.0.1:7500", RPC: api})
//	go f.Serve()
//	defer f.Shutdown(ctx)
package httpfront

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// Config of a Front.
type Config struct {
	// Addr to listen on, host:port; port 0 picks a free one.
	Addr string
	// RPC serves POST /rpc.
	RPC http.Handler
	// Ready reports whether the agent can serve; GET /v1/ready answers 200
	// or 503 from it. Nil means always ready.
	Ready func() bool
	// Modules, if set, serves the raw module upload (PUT /v1/modules).
	Modules http.Handler
	Logger  *slog.Logger
	// BodyTimeout bounds the reading of a JSON-RPC request body (default
	// 30 s): a client that trickles its body is cut off. The handler's
	// work after the body (a blocking read) is not bounded by it.
	BodyTimeout time.Duration
}

// Limits of the HTTP server.
const (
	// readHeaderTimeout: a connection that has not sent a whole request
	// head by then is closed (slowloris, idle connections).
	readHeaderTimeout = 10 * time.Second
	// maxHeaderBytes caps a request head (net/http's default is 1 MiB;
	// JSON-RPC needs a few hundred bytes).
	maxHeaderBytes = 64 << 10
	// defaultBodyTimeout: 4 MiB in 30 s is 140 KB/s, far below any link
	// an agent's clients use.
	defaultBodyTimeout = 30 * time.Second
)

// Front is a listening HTTP server.
type Front struct {
	cfg    Config
	ln     net.Listener
	srv    *http.Server
	closed atomic.Bool
}

// New listens on cfg.Addr; Serve starts answering.
func New(cfg Config) (*Front, error) {
	if cfg.RPC == nil {
		return nil, errors.New("httpfront: an RPC handler is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpfront: listen on %s: %w", cfg.Addr, err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = defaultBodyTimeout
	}
	rpcH := echo.WrapHandler(guardBody(cfg.RPC, cfg.BodyTimeout))
	e.Any("/rpc", rpcH)
	if cfg.Modules != nil {
		e.Any("/v1/modules", echo.WrapHandler(cfg.Modules))
	}
	e.GET("/v1/ready", func(c echo.Context) error {
		if cfg.Ready != nil && !cfg.Ready() {
			return c.String(http.StatusServiceUnavailable, "not ready\n")
		}
		return c.String(http.StatusOK, "ready\n")
	})
	f := &Front{cfg: cfg, ln: ln}
	f.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: readHeaderTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return f, nil
}

// Addr is the address actually listened on.
func (f *Front) Addr() string { return f.ln.Addr().String() }

// Serve answers until Shutdown or Close; it returns nil after those.
func (f *Front) Serve() error {
	err := f.srv.Serve(f.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for in-flight calls until ctx ends.
func (f *Front) Shutdown(ctx context.Context) error {
	if !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	return f.srv.Shutdown(ctx)
}

// Close stops at once.
func (f *Front) Close() error {
	f.closed.Store(true)
	return f.srv.Close()
}

// guardBody protects h, the JSON-RPC handler, from slow bodies: a body is
// read within timeout. The connection's read deadline is set for it and
// cleared once the body ends, so that the handler's work after it (a
// blocking read, up to minutes) is not cut short.
func guardBody(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		r = r.WithContext(r.Context()) // a shallow copy: ours to change
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		// Past the body, net/http reads the connection in the
		// background to notice a client hanging up; a deadline firing
		// there would cancel the call. (On any other error the deadline
		// stays: net/http then drains what is left of the body under it
		// before it answers.)
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
