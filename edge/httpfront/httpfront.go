// Package httpfront is an agent's HTTP front door (echo): JSON-RPC at
// POST /rpc, the raw WASM module upload at PUT /v1/modules, and a plain
// readiness probe at GET /v1/ready.
//
//	f, err := httpfront.New(httpfront.Config{Addr: "127.0.0.1:7500", RPC: api})
//	go f.Serve()
//	defer f.Shutdown(ctx)
package httpfront

import (
	"context"
	"errors"
	"fmt"
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
}

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
	rpcH := echo.WrapHandler(cfg.RPC)
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
		ReadHeaderTimeout: 10 * time.Second,
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
