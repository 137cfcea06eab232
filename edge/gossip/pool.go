package gossip

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// leavePushPulls is how many members Leave tells directly, by a push/pull
// exchange over TCP, after memberlist broadcast the leave. memberlist
// retransmits a message only RetransmitMult*log10(N+1) times, counting
// transmissions to members that died in the last GossipToTheDeadTime and
// piggybacked on probes; and it reports the message sent before its last
// packet is written. In a small pool, a leave soon after a failure is
// then often lost, and the others report a failure instead. A push/pull
// carries our state (left) reliably, and its receivers spread it. Servers
// are told first, up to leaveServers of them: one of them writes the
// catalog, and receivers' own gossip may miss it just as ours did.
const (
	leavePushPulls = 3
	leaveServers   = 7
)

// broadcastTimeout bounds the wait for a metadata update or a leave message
// to be broadcast when the caller gives no shorter limit.
const broadcastTimeout = 5 * time.Second

// Pool is this process's membership in one gossip pool (LAN or WAN).
type Pool struct {
	name   string
	logger *slog.Logger
	ml     *memberlist.Memberlist
	events *eventQueue // nil without Config.Events

	ctx    context.Context // done once Close or Leave begins shutting down
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the pool starts

	lifeMu sync.Mutex // serializes Leave and Close
	closed bool       // guarded by lifeMu

	// updateMu keeps metadata updates (read side) and Leave (write side)
	// apart: memberlist's UpdateNode after its Leave would bring the
	// local member back to life.
	updateMu sync.RWMutex

	mu       sync.Mutex
	stopping bool              // no new goroutines, no more events
	left     bool              // Leave was called
	members  map[string]Member // alive members by name, the local one included
	addr     string            // advertised gossip address

	metaMu  sync.Mutex
	meta    Meta
	metaRaw []byte

	rejoin time.Duration // Config.Rejoin

	rttMu sync.Mutex
	rtts  map[string]time.Duration // smoothed probe round trips by member name

	joined       chan struct{}
	joinedOnce   sync.Once
	joinAttempts atomic.Int64 // background join attempts, for tests
}

// New validates and copies cfg, starts memberlist and, if cfg.Join is set,
// the background join loop.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.clone()
	raw, _ := cfg.Meta.validate() // checked by Validate
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{
		name:    cfg.Name,
		logger:  logger,
		members: make(map[string]Member),
		meta:    cfg.Meta,
		metaRaw: raw,
		joined:  make(chan struct{}),
		rejoin:  cfg.Rejoin,
		rtts:    make(map[string]time.Duration),
	}
	if cfg.Events != nil {
		p.events = newEventQueue(cfg.Events)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())

	mc := cfg.memberlistConfig()
	if cfg.tune != nil {
		cfg.tune(mc)
	}
	d := &delegate{p}
	mc.Delegate = d
	mc.Events = d
	mc.Ping = d
	mc.Logger = memberlistLogger(logger)
	ml, err := memberlist.Create(mc) // calls NotifyJoin for the local member
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	p.ml = ml
	p.mu.Lock()
	p.addr = p.members[p.name].Addr
	p.mu.Unlock()

	if p.events != nil {
		p.goFunc(func() { p.events.run(p.ctx) })
	}
	if len(cfg.Join) == 0 {
		p.markJoined()
	} else {
		p.goFunc(func() { p.joinLoop(cfg.Join) })
	}
	return p, nil
}

// goFunc runs f in a goroutine owned by the pool, unless the pool is
// shutting down.
func (p *Pool) goFunc(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// Join joins the pool through addrs (host:port) and returns how many
// answered. It fails with ErrJoin if none did. A join already under way
// when ctx is done may still succeed in the background.
func (p *Pool) Join(ctx context.Context, addrs ...string) (int, error) {
	if len(addrs) == 0 {
		return 0, fmt.Errorf("%w: no address", ErrJoin)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	if !p.goFunc(func() {
		n, err := p.join(ctx, addrs)
		done <- result{n, err}
	}) {
		return 0, ErrClosed
	}
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Joined is closed once a join succeeded (the background join from
// Config.Join, or Join), or at once if Config.Join was empty. It stays open
// if the pool closes first.
func (p *Pool) Joined() <-chan struct{} { return p.joined }

// Members returns the members the local one knows to be alive, itself
// included, sorted by name. memberlist v0.7.0 does not report suspicion, so
// a suspect member is listed as alive until it is declared dead.
func (p *Pool) Members() []Member {
	p.mu.Lock()
	ms := make([]Member, 0, len(p.members))
	for _, m := range p.members {
		m.Meta = m.Meta.clone()
		ms = append(ms, m)
	}
	p.mu.Unlock()
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return ms
}

// NumAlive returns the number of members Members would return.
func (p *Pool) NumAlive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

// LocalMember returns the local member with its current metadata. Its state
// is StateLeft after Leave and StateDead after Close.
func (p *Pool) LocalMember() Member {
	p.metaMu.Lock()
	meta := p.meta.clone()
	p.metaMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := StateAlive
	switch {
	case p.left:
		st = StateLeft
	case p.stopping:
		st = StateDead
	}
	return Member{Name: p.name, Addr: p.addr, Meta: meta, State: st}
}

// Addr returns the gossip host:port others reach this member at: the
// advertised address, with port 0 resolved. Give it to others' Join.
func (p *Pool) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// UpdateMeta replaces the local metadata and gossips it. It returns once
// the update has been broadcast, or ErrBroadcastTimeout if that takes longer
// than ctx's deadline or 5 s; the update stands either way, as it does if
// ctx is cancelled while it is under way. After Leave it returns ErrClosed.
func (p *Pool) UpdateMeta(ctx context.Context, m Meta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := m.validate()
	if err != nil {
		return err
	}
	timeout := broadcastTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 { // memberlist would wait forever
		return context.DeadlineExceeded
	}
	done := make(chan error, 1)
	if !p.goFunc(func() {
		p.updateMu.RLock()
		defer p.updateMu.RUnlock()
		p.mu.Lock()
		left := p.left
		p.mu.Unlock()
		if left {
			done <- ErrClosed
			return
		}
		p.metaMu.Lock()
		p.meta, p.metaRaw = m.clone(), raw
		p.metaMu.Unlock()
		if err := p.ml.UpdateNode(timeout); err != nil {
			done <- ErrBroadcastTimeout
			return
		}
		done <- nil
	}) {
		return ErrClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave tells the other members that this one leaves, then shuts the pool
// down as Close does. It broadcasts the leave, waits for the broadcast (at
// most half of what is left of timeout), and tells up to 3 members
// directly, all within timeout (5 s if timeout <= 0). Others see
// EventLeave; one that misses the news sees EventFailed later. Leave after
// Close or Leave returns ErrClosed; ErrBroadcastTimeout says the broadcast
// did not go out in time (the direct messages were still sent).
func (p *Pool) Leave(timeout time.Duration) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if timeout <= 0 {
		timeout = broadcastTimeout
	}
	deadline := time.Now().Add(timeout)
	p.updateMu.Lock() // waits for updates under way: at most 5 s
	p.mu.Lock()
	p.left = true
	p.mu.Unlock()
	p.updateMu.Unlock()
	// A starved process (a busy machine) may not gossip the broadcast in
	// time; the push/pulls are then the news that gets out, so they keep
	// half the time rather than what the broadcast leaves of it.
	// (memberlist waits forever for a zero timeout.)
	err := p.ml.Leave(max(time.Until(deadline)/2, time.Millisecond))
	p.pushLeave(time.Until(deadline))
	p.closeLocked()
	if err != nil {
		return ErrBroadcastTimeout
	}
	return nil
}

// pushLeave push/pulls with up to leavePushPulls random members, waiting
// for them at most timeout (closeLocked waits for the rest: at most the
// profile's TCP timeout).
func (p *Pool) pushLeave(timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	p.mu.Lock()
	addrs := leaveTargets(p.members, p.name)
	p.mu.Unlock()
	done := make(chan struct{}, len(addrs))
	started := 0
	for _, a := range addrs {
		if p.goFunc(func() {
			defer func() { done <- struct{}{} }()
			if _, err := p.ml.Join([]string{a}); err != nil {
				p.logger.Debug("could not tell a member of our leave", "addr", a, "err", err)
			}
		}) {
			started++
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range started {
		select {
		case <-done:
		case <-t.C:
			return
		}
	}
}

// leaveTargets picks the members a leaving member tells directly: the
// servers, up to leaveServers of them, then others up to leavePushPulls in
// all. Map order makes the picks random.
func leaveTargets(members map[string]Member, self string) []string {
	var servers, others []string
	for name, m := range members {
		switch {
		case name == self:
		case m.Meta.Role == RoleServer:
			if len(servers) < leaveServers {
				servers = append(servers, m.Addr)
			}
		case len(others) < leavePushPulls:
			others = append(others, m.Addr)
		}
	}
	if n := leavePushPulls - len(servers); n > 0 {
		servers = append(servers, others[:min(n, len(others))]...)
	}
	return servers
}

// Close shuts the pool down without leaving: the others detect this member
// as failed. It waits for the pool's goroutines (an UpdateMeta or Join under
// way can hold it up to 5 s, or the profile's TCP timeout). Close is safe to
// call twice, and after Leave.
func (p *Pool) Close() error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.closed {
		return nil
	}
	return p.closeLocked()
}

// closeLocked tears down in reverse order of New: no new goroutines or
// events, the join loop and event delivery stop, memberlist stops, then the
// pool's goroutines are waited for. memberlist does not wait for its own
// goroutines; they end shortly after.
func (p *Pool) closeLocked() error {
	p.closed = true
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.cancel()
	err := p.ml.Shutdown()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("gossip: shut down memberlist: %w", err)
	}
	return nil
}

// RTT returns the smoothed round-trip time of this member's direct probes
// of member name, and false until one completed. memberlist probes one
// member per probe interval in turn, so in a pool of N a figure is at
// most about N probe intervals old.
func (p *Pool) RTT(name string) (time.Duration, bool) {
	p.rttMu.Lock()
	defer p.rttMu.Unlock()
	d, ok := p.rtts[name]
	return d, ok
}
