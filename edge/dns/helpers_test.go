package dns

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/integration/fakeclock"
	"meridian/rpc"
	"meridian/server/servertest"
)

// errNetworkCut is what switchedNetwork returns while cut: what a
// connection refused or reset looks like through the edge's transport.
var errNetworkCut = fmt.Errorf("%w: connection reset (the test cut the network)", rpc.ErrUnavailable)

// switchedNetwork is a fake of the network between the DNS server and the
// Meridian servers: it passes calls to the real transport until Cut, then
// fails every call, those in flight included, until Restore. It also
// counts the calls that went through, by method, blocking or not.
type switchedNetwork struct {
	to       rpc.Transport
	mu       sync.Mutex
	cut      bool
	inflight map[*int]context.CancelFunc
	calls    sync.Map // "method" or "method/blocking" -> *atomic.Int64
}

func newSwitchedNetwork(to rpc.Transport) *switchedNetwork {
	return &switchedNetwork{to: to, inflight: map[*int]context.CancelFunc{}}
}

func (n *switchedNetwork) Forward(ctx context.Context, body []byte) ([]byte, error) {
	n.mu.Lock()
	if n.cut {
		n.mu.Unlock()
		return nil, errNetworkCut
	}
	callCtx, cancel := context.WithCancel(ctx)
	id := new(int)
	n.inflight[id] = cancel
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.inflight, id)
		n.mu.Unlock()
		cancel()
	}()
	n.count(body)
	out, err := n.to.Forward(callCtx, body)
	if callCtx.Err() != nil && ctx.Err() == nil {
		return nil, errNetworkCut // cut while in flight
	}
	return out, err
}

func (n *switchedNetwork) count(body []byte) {
	var call struct {
		Method string `json:"method"`
		Params struct {
			Index uint64 `json:"index"`
		} `json:"params"`
	}
	_ = json.Unmarshal(body, &call)
	name := call.Method
	if call.Params.Index > 0 {
		name += "/blocking"
	}
	v, _ := n.calls.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Calls returns how many calls of method (with "/blocking" for blocking
// ones) went through.
func (n *switchedNetwork) Calls(method string) int64 {
	v, ok := n.calls.Load(method)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// Cut fails every call from now on, and those in flight.
func (n *switchedNetwork) Cut() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = true
	for _, cancel := range n.inflight {
		cancel()
	}
}

func (n *switchedNetwork) Restore() {
	n.mu.Lock()
	n.cut = false
	n.mu.Unlock()
}

// testEnv is a real one-server cluster and a DNS server on loopback that
// reaches it through a switchedNetwork.
type testEnv struct {
	cluster *servertest.Cluster
	net     *switchedNetwork
	clock   *fakeclock.Clock
	srv     *Server
	addr    string
}

// newEnv starts a cluster and a DNS server on 127.0.0.1:0 with the test
// clock (frozen unless the test moves it); configure adjusts the config.
func newEnv(t *testing.T, configure func(*Config)) *testEnv {
	t.Helper()
	c := servertest.Start(t, servertest.Options{Servers: 1, KVShards: 1})
	e := &testEnv{cluster: c, net: newSwitchedNetwork(c.APIs[0]), clock: fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Servers = e.net
	cfg.Clock = e.clock.Now
	cfg.Logger = testLogger(t)
	if configure != nil {
		configure(&cfg)
	}
	e.srv = startServer(t, cfg)
	e.addr = e.srv.Addr()
	return e
}

func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// passing, warning and critical make a check of a service (or of the
// node, with an empty service ID).
func check(id, serviceID, status string) rpc.Check {
	return rpc.Check{ID: id, Name: id, ServiceID: serviceID, Status: status}
}

// register writes a node with its services and checks to the catalog.
func (e *testEnv) register(t *testing.T, node, address string, meta map[string]string, services []rpc.Service, checks ...rpc.Check) {
	t.Helper()
	var res rpc.WriteResult
	e.cluster.Call(t, 0, rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{
		Node: node, Address: address, NodeMeta: meta, Services: services, Checks: checks}, &res)
}

// registerInstances registers n nodes web-0..web-(n-1) at 10.0.x.y, each
// with one passing instance of service on port 8000+i.
func (e *testEnv) registerInstances(t *testing.T, service string, n int, tags ...string) {
	t.Helper()
	for i := range n {
		node := fmt.Sprintf("%s-%d", service, i)
		id := service + "-1"
		e.register(t, node, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), nil,
			[]rpc.Service{{ID: id, Name: service, Port: 8000 + i, Tags: tags}},
			check("serfHealth", "", rpc.HealthPassing), check("svc", id, rpc.HealthPassing))
	}
}

// query asks addr one question with a real client over network ("udp" or
// "tcp"); edns > 0 adds an OPT record with that UDP size.
func query(t testing.TB, network, addr, qname string, qtype uint16, edns uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(qname, qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &mdns.Client{Net: network, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, qname, mdns.TypeToString[qtype], err)
	}
	return r
}

// eventually waits up to 30 s for cond, checking every 20 ms.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// records returns the records of section of type rrtype.
func records(section []mdns.RR, rrtype uint16) []mdns.RR {
	var out []mdns.RR
	for _, rr := range section {
		if rr.Header().Rrtype == rrtype {
			out = append(out, rr)
		}
	}
	return out
}

// addrs returns the sorted addresses of the A and AAAA records in rrs.
func addrs(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *mdns.A:
			out = append(out, r.A.String())
		case *mdns.AAAA:
			out = append(out, r.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

func startCluster(tb testing.TB) *servertest.Cluster {
	return servertest.Start(tb, servertest.Options{Servers: 1, KVShards: 1})
}

// registerBenchInstance registers web-i at 10.0.0.(i+1) with one passing
// instance of web on port 8000+i.
func registerBenchInstance(tb testing.TB, e *testEnv, i int) {
	var res rpc.WriteResult
	node := fmt.Sprintf("web-%d", i)
	e.cluster.Call(tb, 0, rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{
		Node: node, Address: fmt.Sprintf("10.0.0.%d", i+1),
		Services: []rpc.Service{{ID: "web-1", Name: "web", Port: 8000 + i}},
		Checks:   []rpc.Check{check("serfHealth", "", rpc.HealthPassing), check("svc", "web-1", rpc.HealthPassing)}}, &res)
}

// checkSections compares the answer, additional and authority sections of
// r, summarized, with what a table case wants.
func checkSections(t *testing.T, r *mdns.Msg, answer, extra, auth []string) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want []string
	}{{"answer", summary(r.Answer), answer}, {"additional", summary(r.Extra), extra}, {"authority", summary(r.Ns), auth}} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.what, c.got, c.want)
		}
	}
}
