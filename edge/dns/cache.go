package dns

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// The cache holds the servers' answers the DNS interface needs: the
// service list and the node list of a datacenter, and the health of a
// service (with a tag). An entry is fetched by the first lookup that needs
// it (concurrent first lookups wait for the same fetch), then kept fresh
// by its own goroutine running blocking queries, so a lookup of a warm
// entry costs no round trip. An entry nobody asks about for IdleTimeout
// stops watching and is dropped; past MaxEntries the least recently
// asked entry is dropped.

// kind says what an entry holds.
type kind uint8

const (
	kindServices kind = iota // catalog.services of a datacenter
	kindNodes                // catalog.nodes of a datacenter
	kindHealth               // health.service of one service and tag
)

// key names an entry. dc is "" for the local datacenter; name is a
// service's name as registered; tag is lower case, "" for any.
type key struct {
	kind kind
	dc   string
	name string
	tag  string
}

// data is one answer of the servers, immutable once stored.
type data struct {
	index uint64
	// unknownDC: the servers do not know the datacenter.
	unknownDC bool
	services  map[string][]serviceInfo // kindServices, by lower-case name
	nodes     map[string]*nodeRecord   // kindNodes, by lower-case name
	health    *healthSet               // kindHealth
}

// fetchFunc reads an entry's data from the servers; with index > 0 it
// blocks until the data moves past index or wait runs out.
type fetchFunc func(ctx context.Context, k key, index uint64, wait time.Duration) (*data, error)

const (
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
	unknownDCRetry = 30 * time.Second
	// refetchPause is how long after a failed refetch lookups of the same
	// entry answer from the cache without trying again (its watch keeps
	// trying in the background).
	refetchPause = time.Second
)

type entry struct {
	key    key
	ready  chan struct{} // closed after the first fetch, whatever came of it
	ctx    context.Context
	cancel context.CancelFunc

	data     atomic.Pointer[data]  // nil until a fetch succeeds
	lastErr  atomic.Pointer[error] // the last failed fetch's error, nil after a success
	verified atomic.Int64          // clock time (ns) the servers last answered for it
	used     atomic.Int64          // clock time (ns) of the last lookup
	stale    atomic.Bool           // answered past the stale bound since the last success

	mu            sync.Mutex
	refetching    chan struct{} // closed when the refetch in flight ends
	refetchFailed int64         // clock time (ns) of the last failed refetch
}

type cache struct {
	fetch        fetchFunc
	clock        func() time.Time
	log          *slog.Logger
	stats        *counters
	staleBound   time.Duration
	fetchTimeout time.Duration
	idle         time.Duration
	blockWait    time.Duration
	maxEntries   int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per watching entry

	mu      sync.RWMutex
	entries map[key]*entry
	remote  int // entries of other datacenters
	closed  bool

	warned atomic.Bool // the stale warning was logged and not yet cleared
}

func newCache(cfg *Config, fetch fetchFunc, stats *counters) *cache {
	ctx, cancel := context.WithCancel(context.Background())
	return &cache{
		fetch: fetch, clock: cfg.Clock, log: cfg.Logger, stats: stats,
		staleBound: cfg.StaleBound, fetchTimeout: cfg.FetchTimeout, idle: cfg.IdleTimeout,
		// A watch returns at least this often, so a reachable server keeps
		// every entry younger than the stale bound (and at most every 5
		// minutes, Consul's default wait).
		blockWait:  min(max(cfg.StaleBound/2, 10*time.Millisecond), 5*time.Minute),
		maxEntries: cfg.MaxEntries,
		ctx:        ctx, cancel: cancel,
		entries: map[key]*entry{},
	}
}

func (c *cache) now() int64 { return c.clock().UnixNano() }

// lookup returns k's data: from the cache when it is there, else after
// the first fetch. Past the stale bound it first tries a refetch, and
// answers from the cache if that fails. It returns errUnknownDC for a
// datacenter the servers do not know, or the fetch's error when there is
// no data at all.
func (c *cache) lookup(k key) (*data, error) {
	now := c.now()
	e, err := c.entry(k, now)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.ready:
		c.stats.hits.Add(1)
	default:
		c.stats.misses.Add(1)
		if err := c.await(e.ready, c.fetchTimeout); err != nil {
			return nil, err
		}
	}
	e.used.Store(now)
	d := e.data.Load()
	if d == nil {
		if p := e.lastErr.Load(); p != nil {
			return nil, *p
		}
		return nil, ErrClosed
	}
	if time.Duration(now-e.verified.Load()) > c.staleBound {
		d = c.refetch(e, now)
		if age := time.Duration(now - e.verified.Load()); age > c.staleBound {
			c.stats.staleAnswers.Add(1)
			e.stale.Store(true)
			if !c.warned.Swap(true) {
				var cause error
				if p := e.lastErr.Load(); p != nil {
					cause = *p
				}
				c.log.Warn("dns: servers unreachable; answering from the cache past its stale bound",
					"age", age.Round(time.Millisecond), "bound", c.staleBound, "err", cause)
			}
		}
	}
	if d.unknownDC {
		return nil, errUnknownDC
	}
	return d, nil
}

// await waits for ch up to timeout.
func (c *cache) await(ch <-chan struct{}, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return errFetchTimeout
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// entry returns k's entry, creating it (and its watch) if needed.
func (c *cache) entry(k key, now int64) (*entry, error) {
	c.mu.RLock()
	e, closed := c.entries[k], c.closed
	c.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	if closed {
		return nil, ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if e := c.entries[k]; e != nil {
		return e, nil
	}
	c.makeRoom(k)
	e = &entry{key: k, ready: make(chan struct{})}
	e.ctx, e.cancel = context.WithCancel(c.ctx)
	e.used.Store(now)
	c.entries[k] = e
	if k.dc != "" {
		c.remote++
	}
	c.wg.Add(1)
	go c.watch(e)
	return e, nil
}

// makeRoom drops the least recently used entry when k's would pass the
// limit. Other datacenters' entries (names in queries choose them) may
// take a quarter of the room at most, so that queries for made-up
// datacenters cannot push out the local ones.
func (c *cache) makeRoom(k key) {
	remoteOnly := k.dc != "" && c.remote >= max(1, c.maxEntries/4)
	if !remoteOnly && len(c.entries) < c.maxEntries {
		return
	}
	var victim *entry
	for _, e := range c.entries {
		if remoteOnly && e.key.dc == "" {
			continue
		}
		if victim == nil || e.used.Load() < victim.used.Load() {
			victim = e
		}
	}
	if victim != nil {
		c.removeLocked(victim)
	}
}

func (c *cache) removeLocked(e *entry) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
		if e.key.dc != "" {
			c.remote--
		}
	}
	e.cancel()
}

func (c *cache) drop(e *entry) {
	c.mu.Lock()
	c.removeLocked(e)
	c.mu.Unlock()
}

// watch keeps e fresh: the first fetch, then blocking queries from the
// last index, backing off while the servers fail. It owns nothing but e
// and ends when e is dropped (idle, evicted) or the cache closes.
func (c *cache) watch(e *entry) {
	defer c.wg.Done()
	defer e.cancel()
	var index uint64
	var backoff time.Duration
	first := true
	for {
		var wait time.Duration
		if index > 0 {
			wait = c.blockWait
		}
		d, err := c.fetch(e.ctx, e.key, index, wait)
		if e.ctx.Err() != nil {
			if first {
				close(e.ready)
			}
			return
		}
		now := c.now()
		var pause time.Duration
		if err != nil {
			c.stats.fetchErrors.Add(1)
			e.lastErr.Store(&err)
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			pause = backoff/2 + rand.N(backoff/2+1)
		} else {
			c.store(e, d, now)
			backoff = 0
			switch {
			case d.unknownDC:
				index, pause = 0, unknownDCRetry
			case d.index < index:
				index = 0 // the servers' index went back (a restore): read afresh
			default:
				index = d.index
			}
		}
		if first {
			first = false
			close(e.ready)
		}
		if time.Duration(now-e.used.Load()) > c.idle {
			c.drop(e)
			return
		}
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-e.ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

// store makes d e's data, confirmed by the servers at now.
func (c *cache) store(e *entry, d *data, now int64) {
	e.data.Store(d)
	e.verified.Store(now)
	e.lastErr.Store(nil)
	c.stats.refreshes.Add(1)
	if e.stale.Swap(false) {
		c.warned.Store(false)
		c.log.Info("dns: servers answer again; cache entry refreshed", "kind", e.key.kind, "dc", e.key.dc, "name", e.key.name)
	}
}

// refetch reads e afresh for a lookup that found it past the stale bound.
// Concurrent lookups share one refetch; after one failed, lookups answer
// from the cache for refetchPause without trying.
func (c *cache) refetch(e *entry, now int64) *data {
	e.mu.Lock()
	if ch := e.refetching; ch != nil {
		e.mu.Unlock()
		_ = c.await(ch, c.fetchTimeout)
		return e.data.Load()
	}
	if e.refetchFailed != 0 && time.Duration(now-e.refetchFailed) < refetchPause {
		e.mu.Unlock()
		return e.data.Load()
	}
	ch := make(chan struct{})
	e.refetching = ch
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(e.ctx, c.fetchTimeout)
	d, err := c.fetch(ctx, e.key, 0, 0)
	cancel()
	if err == nil {
		if cur := e.data.Load(); cur == nil || d.index >= cur.index {
			c.store(e, d, c.now())
		}
	} else {
		c.stats.fetchErrors.Add(1)
		e.lastErr.Store(&err)
	}
	e.mu.Lock()
	e.refetching = nil
	if err != nil {
		e.refetchFailed = now
	}
	e.mu.Unlock()
	close(ch)
	return e.data.Load()
}

// sizes returns the number of entries and of those past the stale bound.
func (c *cache) sizes() (n, stale int) {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.entries {
		if e.data.Load() != nil && time.Duration(now-e.verified.Load()) > c.staleBound {
			stale++
		}
	}
	return len(c.entries), stale
}

// close stops every watch and waits for them; lookups fail with ErrClosed.
func (c *cache) close() {
	c.mu.Lock()
	c.closed = true
	for _, e := range c.entries {
		c.removeLocked(e)
	}
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
