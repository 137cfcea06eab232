package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Server is the DNS interface of an agent: it answers the names of its
// domain from a cache of the catalog, and forwards other names to
// recursors. Build one with New, serve with Start, stop with Shutdown or
// Close. ServeDNS may be called without Start (it needs no listener).
type Server struct {
	cfg         Config
	domain      string // lower case, with the trailing dot
	dc          string // lower case
	negTTL      uint32
	nodeTTL     uint32
	serviceTTLs map[string]uint32 // by lower-case name
	ttlPrefixes []ttlPrefix
	recursors   []string // host:port
	log         *slog.Logger
	stats       counters
	cache       *cache

	ctx    context.Context // ends when the server stops: recursor exchanges
	cancel context.CancelFunc

	mu       sync.Mutex
	state    int
	udp, tcp *mdns.Server
	addr     string
	wg       sync.WaitGroup // the two serving goroutines

	stopOnce sync.Once
	stopErr  error
}

type ttlPrefix struct {
	prefix string
	ttl    uint32
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// tcpTimeout bounds reading a query and writing an answer on a TCP
// connection.
const tcpTimeout = 2 * time.Second

// New checks cfg (see Config.Validate) and returns a server that is not
// listening yet. It copies cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:         cfg,
		domain:      strings.ToLower(mdns.Fqdn(cfg.Domain)),
		dc:          strings.ToLower(cfg.DC),
		negTTL:      seconds(cfg.NegativeTTL),
		nodeTTL:     seconds(cfg.NodeTTL),
		serviceTTLs: map[string]uint32{},
		log:         cfg.Logger,
	}
	for name, ttl := range cfg.ServiceTTL {
		name = strings.ToLower(name)
		if p, ok := strings.CutSuffix(name, "*"); ok {
			s.ttlPrefixes = append(s.ttlPrefixes, ttlPrefix{p, seconds(ttl)})
		} else {
			s.serviceTTLs[name] = seconds(ttl)
		}
	}
	for _, r := range cfg.Recursors {
		addr, _ := recursorAddr(r) // checked by Validate
		s.recursors = append(s.recursors, addr)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cache = newCache(&s.cfg, s.fetch, &s.stats)
	return s, nil
}

// Start listens on Config.Addr, UDP and TCP on the same port, and serves
// in the background. It returns once both listeners serve.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStarted:
		return ErrStarted
	case stateStopped:
		return ErrClosed
	}
	pc, ln, err := listen(s.cfg.Addr)
	if err != nil {
		return err
	}
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &mdns.Server{PacketConn: pc, Handler: s, UDPSize: mdns.MaxMsgSize, NotifyStartedFunc: notify,
		MsgAcceptFunc: s.accept, MsgInvalidFunc: s.invalid}
	s.tcp = &mdns.Server{Listener: ln, Handler: s, ReadTimeout: tcpTimeout, WriteTimeout: tcpTimeout, NotifyStartedFunc: notify,
		MsgAcceptFunc: s.accept, MsgInvalidFunc: s.invalid}
	failed := make(chan error, 2)
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
				s.log.Error("dns: serving stopped", "err", err)
			}
		}()
	}
	for range 2 {
		select {
		case <-started:
		case err := <-failed:
			pc.Close()
			ln.Close()
			s.state = stateStopped
			return fmt.Errorf("dns: serve on %s: %w", s.cfg.Addr, err)
		}
	}
	s.addr = pc.LocalAddr().String()
	s.state = stateStarted
	s.log.Info("dns: serving", "addr", s.addr, "domain", s.domain, "dc", s.cfg.DC)
	return nil
}

// accept is miekg/dns's default filter (a query with one question, no
// update), counting what it rejects: miekg/dns answers those itself,
// FORMERR or NOTIMP.
func (s *Server) accept(h mdns.Header) mdns.MsgAcceptAction {
	a := mdns.DefaultMsgAcceptFunc(h)
	switch a {
	case mdns.MsgReject:
		s.stats.queries.Add(1)
		s.stats.formerr.Add(1)
	case mdns.MsgRejectNotImplemented:
		s.stats.queries.Add(1)
		s.stats.notimp.Add(1)
	}
	return a
}

// invalid counts messages miekg/dns could not parse: answered FORMERR,
// or dropped when not even the header is there.
func (s *Server) invalid(_ []byte, _ error) { s.stats.malformed.Add(1) }

// listen opens UDP and TCP on addr; with port 0, on a port free for both.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen address %q: %w", addr, err)
	}
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen: %w", err)
		}
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			// Bound to one address, the answer's source is that address:
			// plain recvfrom and sendto do, cheaper than miekg/dns's
			// recvmsg and sendmsg with the destination in control data.
			pc = plainUDP{pc}
		}
		tcpAddr := addr
		if port == "0" {
			tcpAddr = net.JoinHostPort(host, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
		}
		ln, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" {
			return nil, nil, fmt.Errorf("dns: listen: %w", err)
		}
		// The UDP port chosen is taken in TCP: try another.
	}
	return nil, nil, fmt.Errorf("dns: listen on %s: no port free in both UDP and TCP", addr)
}

// plainUDP hides *net.UDPConn from miekg/dns, which then reads and writes
// with ReadFrom and WriteTo.
type plainUDP struct{ net.PacketConn }

// Addr is the address served, UDP and TCP ("host:port"), once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stats returns the counters and the cache gauges.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	st.Entries, st.StaleEntries = s.cache.sizes()
	return st
}

// Shutdown stops listening, lets the queries in flight finish (until ctx
// ends), then stops the cache's watches. Safe to call more than once, and
// with Close.
func (s *Server) Shutdown(ctx context.Context) error { return s.stop(ctx, false) }

// Close stops at once: queries waiting for the servers or a recursor are
// answered SERVFAIL or dropped.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.stop(ctx, true)
}

func (s *Server) stop(ctx context.Context, now bool) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		started := s.state == stateStarted
		s.state = stateStopped
		s.mu.Unlock()
		if now {
			s.cancel()
			s.cache.cancel()
		}
		var errs []error
		if started {
			for _, srv := range []*mdns.Server{s.udp, s.tcp} {
				if err := srv.ShutdownContext(ctx); err != nil && !now {
					errs = append(errs, fmt.Errorf("dns: shutdown: %w", err))
				}
			}
		}
		s.cancel()
		s.cache.close()
		s.wg.Wait()
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
