package dns

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

// upstream is a resolver outside Meridian that the tests forward to: a
// miekg/dns server on loopback answering example.com. A 192.0.2.1 on UDP
// and TCP, or never answering when silent.
type upstream struct {
	addr    string
	queries atomic.Int64
}

func startUpstream(t *testing.T, silent bool) *upstream {
	t.Helper()
	u := &upstream{}
	block := make(chan struct{})
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		u.queries.Add(1)
		if silent {
			<-block
			return
		}
		m := new(mdns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if r.Question[0].Name == "example.com." && r.Question[0].Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR("example.com. 300 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.ShutdownContext(ctx)
		})
	}
	t.Cleanup(func() { close(block) })
	return u
}

// unreachable is a Transport to servers that are never there: the DNS
// server needs none for names outside its domain.
type unreachable struct{}

func (unreachable) Forward(context.Context, []byte) ([]byte, error) {
	return nil, rpc.ErrUnavailable
}

// deadAddr is a loopback UDP and TCP address nothing listens on.
func deadAddr(t *testing.T) string {
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	ln.Close()
	return pc.LocalAddr().String()
}

func TestRecursors(t *testing.T) {
	up := startUpstream(t, false)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Servers, cfg.Logger = "127.0.0.1:0", unreachable{}, testLogger(t)
	cfg.Recursors = []string{deadAddr(t), up.addr} // the first fails, the second answers
	cfg.RecursorTimeout = time.Second
	srv := startServer(t, cfg)
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, network, srv.Addr(), "example.com.", mdns.TypeA, 0)
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.1" {
			t.Fatalf("%s: forwarded answer %v, want the upstream's A 192.0.2.1", network, r)
		}
		if !r.RecursionAvailable {
			t.Fatalf("%s: RA not set with recursors", network)
		}
		if r := query(t, network, srv.Addr(), "nope.example.com.", mdns.TypeA, 0); r.Rcode != mdns.RcodeNameError {
			t.Fatalf("%s: upstream NXDOMAIN relayed as %s", network, mdns.RcodeToString[r.Rcode])
		}
	}
	if up.queries.Load() != 4 {
		t.Fatalf("upstream saw %d queries, want 4", up.queries.Load())
	}
	// Names inside the domain are never forwarded.
	if r := query(t, "udp", srv.Addr(), "web.service.meridian.", mdns.TypeA, 0); r.Rcode != mdns.RcodeServerFailure || up.queries.Load() != 4 {
		t.Fatalf("in-domain name with the servers unreachable: %s (upstream saw %d), want SERVFAIL, not forwarded",
			mdns.RcodeToString[r.Rcode], up.queries.Load())
	}
	if s := srv.Stats(); s.Forwarded != 4 || s.RecursorErrors != 0 {
		t.Fatalf("stats %+v: want 4 forwarded, no recursor error", s)
	}
}

func TestRecursorTimeout(t *testing.T) {
	silent := startUpstream(t, true)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Servers, cfg.Logger = "127.0.0.1:0", unreachable{}, testLogger(t)
	cfg.Recursors = []string{silent.addr}
	cfg.RecursorTimeout = 300 * time.Millisecond
	srv := startServer(t, cfg)
	for _, network := range []string{"udp", "tcp"} {
		start := time.Now()
		r := query(t, network, srv.Addr(), "example.com.", mdns.TypeA, 0)
		if r.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("%s: %s, want SERVFAIL when the recursor does not answer", network, mdns.RcodeToString[r.Rcode])
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("%s: SERVFAIL after %v, before the recursor timeout", network, d)
		}
	}
	if s := srv.Stats(); s.RecursorErrors != 2 || s.ServFail != 2 {
		t.Fatalf("stats %+v: want 2 recursor errors and 2 SERVFAIL", s)
	}
}
