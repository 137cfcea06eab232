package dns

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

// logBuffer keeps what the server logs, for tests that read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCacheServesWhileServersDown(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, func(c *Config) {
		c.FetchTimeout = time.Second
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &logs), nil))
	})
	e.registerInstances(t, "web", 2)
	ask := func() []string { return addrs(query(t, "udp", e.addr, "web.service.meridian.", mdns.TypeA, 0).Answer) }
	two := []string{"10.0.0.1", "10.0.0.2"}
	if got := ask(); !slices.Equal(got, two) {
		t.Fatalf("warm-up: %q, want %q", got, two)
	}

	e.net.Cut()
	e.registerInstances(t, "web", 3) // a third instance the cut edge cannot see
	if got := ask(); !slices.Equal(got, two) {
		t.Fatalf("servers cut, within the stale bound: %q, want the cached %q", got, two)
	}
	if s := e.srv.Stats(); s.StaleAnswers != 0 {
		t.Fatalf("stale answers %d within the bound, want 0", s.StaleAnswers)
	}

	// Past the bound a query tries a refetch, which fails: the cache answers.
	e.clock.Add(2 * DefaultStaleBound)
	if got := ask(); !slices.Equal(got, two) {
		t.Fatalf("servers cut, past the stale bound: %q, want the cached %q", got, two)
	}
	s := e.srv.Stats()
	if s.StaleAnswers == 0 || s.StaleEntries == 0 || s.FetchErrors == 0 {
		t.Fatalf("stats %+v: want stale answers, stale entries and fetch errors", s)
	}
	if !strings.Contains(logs.String(), "servers unreachable") {
		t.Fatalf("no warning in the log:\n%s", logs.String())
	}

	// The servers come back: the watches fetch again, the third instance shows.
	e.net.Restore()
	eventually(t, "the third instance after the network is back", func() bool { return len(ask()) == 3 })
	eventually(t, "no stale entry", func() bool { return e.srv.Stats().StaleEntries == 0 })
}

func TestCacheFirstQueriesShareOneFetch(t *testing.T) {
	e := newEnv(t, nil)
	e.registerInstances(t, "web", 3)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := query(t, "udp", e.addr, "web.service.meridian.", mdns.TypeA, 0); len(r.Answer) != 3 {
				t.Errorf("%d answers, want 3", len(r.Answer))
			}
		})
	}
	wg.Wait()
	for _, m := range []string{rpc.MethodCatalogServices, rpc.MethodHealthService} {
		if n := e.net.Calls(m); n != 1 {
			t.Errorf("%s called %d times (not blocking) for 20 concurrent first queries, want 1", m, n)
		}
	}
}

func TestCacheWarmQueriesCostNoRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	e.registerInstances(t, "web", 3)
	query(t, "udp", e.addr, "web.service.meridian.", mdns.TypeSRV, 0)
	before := e.srv.Stats()
	total := func() int64 {
		var n int64
		for _, m := range []string{rpc.MethodCatalogServices, rpc.MethodHealthService} {
			n += e.net.Calls(m) + e.net.Calls(m+"/blocking")
		}
		return n
	}
	calls := total()
	for range 200 {
		if r := query(t, "udp", e.addr, "web.service.meridian.", mdns.TypeA, 0); len(r.Answer) != 3 {
			t.Fatalf("%d answers, want 3", len(r.Answer))
		}
	}
	// At most the watches' first blocking calls, which may start after the
	// count above; nothing per query.
	if n := total() - calls; n > 2 {
		t.Fatalf("%d calls to the servers during 200 warm queries", n)
	}
	after := e.srv.Stats()
	if hits := after.CacheHits - before.CacheHits; hits != 400 || after.CacheMisses != before.CacheMisses {
		t.Fatalf("%d hits and %d new misses for 200 queries, want 400 hits (list and service) and no miss",
			hits, after.CacheMisses-before.CacheMisses)
	}
}

func TestCacheFollowsChanges(t *testing.T) {
	e := newEnv(t, nil)
	e.registerInstances(t, "web", 2)
	ask := func(qname string) *mdns.Msg { return query(t, "udp", e.addr, qname, mdns.TypeA, 0) }
	if got := addrs(ask("web.service.meridian.").Answer); len(got) != 2 {
		t.Fatalf("warm-up: %q", got)
	}
	if r := ask("later.service.meridian."); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("a service not registered yet: %s", mdns.RcodeToString[r.Rcode])
	}
	e.registerInstances(t, "web", 3)
	e.registerInstances(t, "later", 1)
	eventually(t, "the third instance", func() bool { return len(ask("web.service.meridian.").Answer) == 3 })
	eventually(t, "the new service", func() bool { return len(ask("later.service.meridian.").Answer) == 1 })

	var res rpc.WriteResult
	e.cluster.Call(t, 0, rpc.MethodCatalogUpdateChecks, rpc.CheckUpdateParams{Node: "web-0",
		Checks: []rpc.CheckStatus{{ID: "svc", Status: rpc.HealthCritical}}}, &res)
	eventually(t, "the critical instance out", func() bool {
		return slices.Equal(addrs(ask("web.service.meridian.").Answer), []string{"10.0.0.2", "10.0.0.3"})
	})
	for _, node := range []string{"web-0", "web-1", "web-2"} {
		e.cluster.Call(t, 0, rpc.MethodCatalogDeregister, rpc.CatalogDeregisterParams{Node: node}, &res)
	}
	eventually(t, "NXDOMAIN once every instance is gone", func() bool {
		return ask("web.service.meridian.").Rcode == mdns.RcodeNameError
	})
}

func TestCacheLimitAndIdle(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxEntries = 3
		c.StaleBound = 400 * time.Millisecond // watches return every 200 ms
		c.IdleTimeout = time.Minute
	})
	for _, s := range []string{"a", "b", "c"} {
		e.registerInstances(t, s, 1)
	}
	for _, s := range []string{"a", "b", "c"} {
		if r := query(t, "udp", e.addr, s+".service.meridian.", mdns.TypeA, 0); len(r.Answer) != 1 {
			t.Fatalf("%s: %v", s, r)
		}
		e.clock.Add(time.Second) // a is the least recently asked
	}
	if s := e.srv.Stats(); s.Entries != 3 {
		t.Fatalf("%d entries, want the limit 3 (the service list, b and c)", s.Entries)
	}
	misses := e.srv.Stats().CacheMisses
	query(t, "udp", e.addr, "c.service.meridian.", mdns.TypeA, 0)
	if e.srv.Stats().CacheMisses != misses {
		t.Fatalf("c was dropped, want a (the least recently asked)")
	}
	query(t, "udp", e.addr, "a.service.meridian.", mdns.TypeA, 0)
	if e.srv.Stats().CacheMisses != misses+1 {
		t.Fatalf("a was still cached")
	}

	e.clock.Add(2 * time.Minute)
	eventually(t, "idle entries dropped", func() bool { return e.srv.Stats().Entries == 0 })
}

func TestUnknownDatacenterIsCached(t *testing.T) {
	e := newEnv(t, nil)
	for range 5 {
		if r := query(t, "udp", e.addr, "web.service.elsewhere.meridian.", mdns.TypeA, 0); r.Rcode != mdns.RcodeNameError {
			t.Fatalf("unknown datacenter: %s, want NXDOMAIN", mdns.RcodeToString[r.Rcode])
		}
	}
	if n := e.net.Calls(rpc.MethodCatalogServices); n != 1 {
		t.Fatalf("%d calls for 5 queries of an unknown datacenter, want 1", n)
	}
}
