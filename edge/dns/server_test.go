package dns

import (
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestLifecycle(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := DefaultConfig()
	cfg.Addr, cfg.Servers, cfg.Logger = "127.0.0.1:0", newFakeCatalog(), testLogger(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	// Port 0: the same port in UDP and TCP.
	for _, network := range []string{"udp", "tcp"} {
		if r := query(t, network, s.Addr(), "web.service.meridian.", mdns.TypeA, 0); r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%s on %s: %v", network, s.Addr(), r)
		}
	}
	// A TCP client that stays connected must not hold Shutdown.
	idle, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after Shutdown: %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown: %v, want ErrClosed", err)
	}
	if _, err := s.cache.lookup(key{kind: kindServices}); !errors.Is(err, ErrClosed) {
		t.Fatalf("lookup after Shutdown: %v, want ErrClosed", err)
	}
	// Every goroutine started (listeners, watches) is gone.
	eventually(t, "goroutines back to the count before New", func() bool { return runtime.NumGoroutine() <= before })
}

func TestStartOnABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := DefaultConfig()
	cfg.Addr, cfg.Servers = ln.Addr().String(), unreachable{}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(); err == nil {
		t.Fatalf("Start on a port taken in TCP succeeded")
	}
}

func TestCloseWithoutStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Servers = newFakeCatalog()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// ServeDNS works without listeners (and starts watches)...
	w := &discardWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}
	m := new(mdns.Msg)
	m.SetQuestion("web.service.meridian.", mdns.TypeA)
	s.ServeDNS(w, m)
	if w.bytes == 0 {
		t.Fatal("no answer")
	}
	// ...and Close stops them.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Entries != 0 {
		t.Fatalf("entries left after Close")
	}
}
