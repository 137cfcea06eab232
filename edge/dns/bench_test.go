package dns

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// discardWriter is a ResponseWriter that packs the answer, as miekg/dns's
// own does before writing it, and drops it.
type discardWriter struct {
	remote net.Addr
	bytes  int
}

func (w *discardWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7600}
}
func (w *discardWriter) RemoteAddr() net.Addr { return w.remote }
func (w *discardWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	w.bytes = len(b)
	return err
}
func (w *discardWriter) Write(b []byte) (int, error) { w.bytes = len(b); return len(b), nil }
func (w *discardWriter) Close() error                { return nil }
func (w *discardWriter) TsigStatus() error           { return nil }
func (w *discardWriter) TsigTimersOnly(bool)         {}
func (w *discardWriter) Hijack()                     {}

// BenchmarkServeDNS measures a query through the handler with a warm
// cache, as the UDP server runs it: unpack the query, answer, pack the
// answer. The catalog is a real one-server cluster with 10 instances of
// web. Run with -cpu to set the cores; ns/op of the Parallel cases
// gives queries per second (1e9 / ns/op).
func BenchmarkServeDNS(b *testing.B) {
	e := newBenchEnv(b)
	for _, tc := range []struct {
		name  string
		qtype uint16
	}{{"A", mdns.TypeA}, {"SRV", mdns.TypeSRV}} {
		m := new(mdns.Msg)
		m.SetQuestion("web.service.meridian.", tc.qtype)
		wire, _ := m.Pack()
		run := func(b *testing.B, loop func(func())) {
			b.ReportAllocs()
			w := &discardWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}}
			e.srv.ServeDNS(w, m) // warm
			b.ResetTimer()
			loop(func() {
				req := new(mdns.Msg)
				if err := req.Unpack(wire); err != nil {
					b.Fatal(err)
				}
				e.srv.ServeDNS(w, req)
			})
			if w.bytes == 0 {
				b.Fatal("no answer")
			}
		}
		b.Run(tc.name, func(b *testing.B) {
			run(b, func(q func()) {
				for b.Loop() {
					q()
				}
			})
		})
		b.Run(tc.name+"/Parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}}
				for pb.Next() {
					req := new(mdns.Msg)
					if err := req.Unpack(wire); err != nil {
						b.Error(err)
						return
					}
					e.srv.ServeDNS(w, req)
				}
			})
		})
	}
}

// newBenchEnv starts a cluster with 10 passing instances of web and a DNS
// server (not listening) that reaches it in process, as a server node's
// DNS interface does.
func newBenchEnv(tb testing.TB) *testEnv {
	e := &testEnv{}
	e.cluster = startCluster(tb)
	for i := range 10 {
		registerBenchInstance(tb, e, i)
	}
	cfg := DefaultConfig()
	cfg.Servers = e.cluster.APIs[0]
	srv, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	e.srv = srv
	return e
}

// TestServeForDNSPerf keeps a DNS server up for dnsperf
// (integration/bench/dns/dnsperf.sh, TARGET=test) until
// MERIDIAN_DNS_SERVE_FOR passes or SIGTERM: a one-server cluster with 10
// instances of web, and the DNS interface on MERIDIAN_DNS_SERVE reaching
// it in process, as on a dev node. Skipped unless MERIDIAN_DNS_SERVE is set.
func TestServeForDNSPerf(t *testing.T) {
	addr := os.Getenv("MERIDIAN_DNS_SERVE")
	if addr == "" {
		t.Skip("set MERIDIAN_DNS_SERVE=host:port to serve for dnsperf")
	}
	d, err := time.ParseDuration(os.Getenv("MERIDIAN_DNS_SERVE_FOR"))
	if err != nil {
		d = time.Minute
	}
	e := &testEnv{cluster: startCluster(t)}
	for i := range 10 {
		registerBenchInstance(t, e, i)
	}
	cfg := DefaultConfig()
	cfg.Addr, cfg.Servers = addr, e.cluster.APIs[0]
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	query(t, "udp", srv.Addr(), "web.service.meridian.", mdns.TypeSRV, 0) // warm
	fmt.Printf("dns: serving on %s\n", srv.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	select {
	case <-time.After(d):
	case <-stop:
	}
	fmt.Printf("dns: stats %+v\n", srv.Stats())
}
