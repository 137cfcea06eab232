package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meridian/integration/freeport"
	"meridian/rpc"
	"meridian/server/shard"
)

// Options of a cluster. Zero fields take the defaults of DefaultOptions.
type Options struct {
	// Servers is the number of `meridian server` processes (default 3).
	Servers int
	// KVShards is the datacenter's number of KV shards (default 4).
	KVShards int
	// LogLevel is each server's and edge's -log-level (default "info": a failed test
	// shows the member events and leader changes that led to it).
	LogLevel string
	// LogDB is each server's -raft-logdb preset (default "tiny").
	LogDB string
	// Args are more flags for every server, after the ones Start sets.
	Args []string
	// DC is the datacenter's name (default "dc1").
	DC string
	// JoinWAN are more WAN gossip addresses (a server of another
	// datacenter, WANAddr) every server joins; each server has its own
	// -wan-addr and joins the first server's.
	JoinWAN []string
	// Bootstrap forms the datacenter from gossip (-bootstrap-expect and
	// -join) instead of a static -peers list.
	Bootstrap bool
	// ReadyTimeout bounds Start's and Restart's waits (default 60 s).
	ReadyTimeout time.Duration
	// StopTimeout is how long Stop lets a server take to exit after
	// SIGTERM before it fails the test (default 10 s).
	StopTimeout time.Duration
}

// DefaultOptions returns three servers with four KV shards, quiet logs and
// the smallest LogDB preset.
func DefaultOptions() Options {
	return Options{
		Servers:      3,
		KVShards:     4,
		LogLevel:     "info",
		LogDB:        "tiny",
		ReadyTimeout: 60 * time.Second,
		StopTimeout:  10 * time.Second,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.DC == "" {
		o.DC = "dc1"
	}
	if o.Servers == 0 {
		o.Servers = d.Servers
	}
	if o.KVShards == 0 {
		o.KVShards = d.KVShards
	}
	if o.LogLevel == "" {
		o.LogLevel = d.LogLevel
	}
	if o.LogDB == "" {
		o.LogDB = d.LogDB
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = d.ReadyTimeout
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = d.StopTimeout
	}
	o.Args = append([]string(nil), o.Args...)
	return o
}

// Validate reports the first thing wrong with o (after defaults).
func (o Options) Validate() error {
	switch {
	case o.Servers < 1 || o.Servers > 9:
		return fmt.Errorf("cluster: %d servers: want 1-9", o.Servers)
	case o.KVShards < 1 || o.KVShards > shard.MaxKVShards:
		return fmt.Errorf("cluster: %d KV shards: want 1-%d", o.KVShards, shard.MaxKVShards)
	case o.ReadyTimeout < 0 || o.StopTimeout < 0:
		return errors.New("cluster: negative timeout")
	}
	return nil
}

// Cluster is a running datacenter of server processes.
type Cluster struct {
	t    testing.TB
	opts Options
	bin  string
	dir  string
	hc   *http.Client // readiness probes

	mu      sync.Mutex
	members []*member
	edges   []*member
	procs   []*process // every run, for the crash report
	all     *rpc.Client
	closed  bool
}

// member is server i across its runs.
type member struct {
	node     string
	raftAddr string
	httpAddr string
	lanAddr  string
	wanAddr  string // servers
	dataDir  string
	args     []string
	sink     *logSink
	client   *rpc.Client

	runs   int
	proc   *process // the current or last run; nil before the first
	paused bool
}

// running reports whether the member's current run is alive (paused or
// not). Callers hold c.mu.
func (m *member) running() bool { return m.proc != nil && !m.proc.exited() }

// errPortTaken: a server could not bind a port we picked; Start tries again
// with others.
var errPortTaken = errors.New("cluster: a picked port was taken before the server bound it")

// Start starts a cluster and waits until every shard has a leader that
// every server knows. It fails the test if it cannot; t.Cleanup kills every
// server.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	if build.took > 0 && build.logged.CompareAndSwap(false, true) {
		t.Logf("cluster: built %s in %v", bin, build.took.Round(time.Millisecond))
	}
	for attempt := 1; ; attempt++ {
		c, err := start(t, bin, opts)
		if err == nil {
			return c
		}
		if errors.Is(err, errPortTaken) && attempt < 3 {
			t.Logf("cluster: %v; starting again with other ports", err)
			continue
		}
		t.Fatalf("cluster: start %d servers: %v", opts.Servers, err)
	}
}

func start(t testing.TB, bin string, opts Options) (*Cluster, error) {
	// TempDir first: its removal is a cleanup that must run after ours,
	// which kills the processes writing into it.
	dir := t.TempDir()
	c := &Cluster{
		t:    t,
		opts: opts,
		bin:  bin,
		dir:  dir,
		hc:   &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(c.cleanup)

	pp, err := freeport.Ports(4 * opts.Servers)
	if err != nil {
		return nil, err
	}
	var peers []string
	for i := range opts.Servers {
		m := &member{
			node:     "s" + strconv.Itoa(i+1),
			raftAddr: "127.0.0.1:" + strconv.Itoa(pp[4*i]),
			httpAddr: "127.0.0.1:" + strconv.Itoa(pp[4*i+1]),
			lanAddr:  "127.0.0.1:" + strconv.Itoa(pp[4*i+2]),
			wanAddr:  "127.0.0.1:" + strconv.Itoa(pp[4*i+3]),
		}
		m.dataDir = filepath.Join(dir, m.node)
		m.sink = newLogSink(m.node, func(line string) { t.Log(line) })
		c.members = append(c.members, m)
		peers = append(peers, m.node+"="+m.raftAddr)
	}
	for _, m := range c.members {
		m.args = append([]string{"server",
			"-node", m.node,
			"-data-dir", m.dataDir,
			"-raft-addr", m.raftAddr,
			"-http-addr", m.httpAddr,
			"-lan-addr", m.lanAddr, "-dns-addr", "127.0.0.1:0",
			"-join", c.members[0].lanAddr,
			"-dc", opts.DC, "-wan-addr", m.wanAddr, "-join-wan", c.members[0].wanAddr,
			"-gossip-profile", "local",
			"-kv-shards", strconv.Itoa(opts.KVShards),
			"-log-level", opts.LogLevel,
			"-raft-logdb", opts.LogDB,
		}, opts.Args...)
		for _, a := range opts.JoinWAN {
			m.args = append(m.args, "-join-wan", a)
		}
		if opts.Bootstrap {
			m.args = append(m.args, "-bootstrap-expect", strconv.Itoa(opts.Servers))
		} else {
			m.args = append(m.args, "-peers", strings.Join(peers, ","))
		}
		cl, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{m.httpAddr}})
		if err != nil {
			return nil, err
		}
		m.client = cl
	}
	c.mu.Lock()
	for _, m := range c.members {
		if err := c.launchLocked(m); err != nil {
			c.mu.Unlock()
			c.Close()
			return nil, err
		}
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), opts.ReadyTimeout)
	defer cancel()
	began := time.Now()
	if err := c.WaitReady(ctx); err != nil {
		c.Close()
		if c.portTaken() {
			// Not a crash of the server: Start tries again.
			for _, p := range c.procs {
				p.expected.Store(true)
			}
			return nil, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, err
	}
	t.Logf("cluster: %d servers ready in %v (data in %s)", opts.Servers, time.Since(began).Round(time.Millisecond), dir)
	return c, nil
}

// launchLocked starts a new run of m. Callers hold c.mu.
func (c *Cluster) launchLocked(m *member) error {
	m.runs++
	name := m.node
	if m.runs > 1 {
		name = fmt.Sprintf("%s#%d", m.node, m.runs)
	}
	m.sink.setPrefix(name)
	p, err := startProcess(c.bin, m.args, name, m.sink)
	if err != nil {
		return err
	}
	m.proc, m.paused = p, false
	c.procs = append(c.procs, p)
	return nil
}

// portTaken reports whether a server died because its address was in use.
func (c *Cluster) portTaken() bool {
	for _, m := range c.members {
		if strings.Contains(m.sink.lastLines(), "address already in use") {
			return true
		}
	}
	return false
}

// killAll SIGKILLs every running server and waits for each.
func (c *Cluster) killAll() {
	c.mu.Lock()
	var running []*process
	for _, m := range append(c.members[:len(c.members):len(c.members)], c.edges...) {
		if m.running() {
			running = append(running, m.proc)
		}
		m.paused = false
	}
	c.mu.Unlock()
	for _, p := range running {
		if err := p.kill(10 * time.Second); err != nil {
			c.t.Errorf("%v", err)
		}
	}
}

// Close kills every server (SIGKILL) and waits for them, and closes the
// clients. Safe to call twice; t.Cleanup calls it. Use it to end a cluster
// before the test does, e.g. to start another.
func (c *Cluster) Close() {
	c.killAll()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for _, m := range append(c.members[:len(c.members):len(c.members)], c.edges...) {
		if m.client != nil {
			m.client.Close()
		}
	}
	if c.all != nil {
		c.all.Close()
	}
	c.hc.CloseIdleConnections()
}

// cleanup is the cluster's t.Cleanup: close, report crashes and stop
// logging (the test is over).
func (c *Cluster) cleanup() {
	c.Close()
	c.mu.Lock()
	procs := append([]*process(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		if p.crashed() {
			c.t.Errorf("cluster: %s crashed: %s\nlast lines:\n%s", p.name, p.describeExit(), p.sink.lastLines())
		}
	}
	for _, m := range append(c.members[:len(c.members):len(c.members)], c.edges...) {
		m.sink.mute()
	}
}

// N is the number of servers.
func (c *Cluster) N() int { return len(c.members) }

// KVShards is the datacenter's number of KV shards.
func (c *Cluster) KVShards() int { return c.opts.KVShards }

// Node is the node name of server i ("s<i+1>").
func (c *Cluster) Node(i int) string { return c.member(i).node }

// HTTPAddr is server i's JSON-RPC address (host:port; path /rpc).
func (c *Cluster) HTTPAddr(i int) string { return c.member(i).httpAddr }

// RaftAddr is server i's Raft address.
func (c *Cluster) RaftAddr(i int) string { return c.member(i).raftAddr }

// WANAddr is server i's WAN gossip address.
func (c *Cluster) WANAddr(i int) string { return c.member(i).wanAddr }

// DC is the cluster's datacenter.
func (c *Cluster) DC() string { return c.opts.DC }

// DataDir is server i's data directory.
func (c *Cluster) DataDir(i int) string { return c.member(i).dataDir }

// HTTPAddrs lists every server's JSON-RPC address.
func (c *Cluster) HTTPAddrs() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.httpAddr
	}
	return out
}

// Index returns the index of the server named node, or -1.
func (c *Cluster) Index(node string) int {
	for i, m := range c.members {
		if m.node == node {
			return i
		}
	}
	return -1
}

// Running reports whether server i's process is alive (paused counts).
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.member(i).running()
}

// Up reports whether server i is running and not paused.
func (c *Cluster) Up(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.member(i)
	return m.running() && !m.paused
}

// Pid is the process ID of server i's current run (0 if it never ran).
func (c *Cluster) Pid(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.member(i).proc; p != nil {
		return p.pid()
	}
	return 0
}

// LastLines returns the last lines server i wrote, across its runs.
func (c *Cluster) LastLines(i int) string { return c.member(i).sink.lastLines() }

func (c *Cluster) member(i int) *member {
	if i < 0 || i >= len(c.members) {
		panic(fmt.Sprintf("cluster: no server %d (have 0-%d)", i, len(c.members)-1))
	}
	return c.members[i]
}

// Client returns the JSON-RPC client of server i alone: a call fails when
// that server is down rather than moving to another.
func (c *Cluster) Client(i int) *rpc.Client { return c.member(i).client }

// ClientAll returns a client that knows every server and moves to the next
// one on a connection error.
func (c *Cluster) ClientAll() *rpc.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.all == nil {
		cl, err := rpc.NewClient(rpc.ClientConfig{Addrs: c.HTTPAddrs()})
		if err != nil {
			panic(err) // the addresses are ours and valid
		}
		c.all = cl
	}
	return c.all
}

// Kill sends SIGKILL to server i and waits until it is gone.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	p := c.current(i, "Kill")
	if err := p.kill(10 * time.Second); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.member(i).paused = false
	c.mu.Unlock()
}

// Stop sends SIGTERM to server i (resuming it first if paused) and waits for
// it to exit. It fails the test unless the server exits with status 0
// within Options.StopTimeout (10 s); it returns how long the stop took.
func (c *Cluster) Stop(i int) time.Duration {
	c.t.Helper()
	p := c.current(i, "Stop")
	m := c.member(i)
	p.expected.Store(true)
	c.mu.Lock()
	paused := m.paused
	m.paused = false
	c.mu.Unlock()
	began := time.Now()
	if err := p.signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	if paused {
		if err := p.signal(syscall.SIGCONT); err != nil {
			c.t.Fatal(err)
		}
	}
	if !p.waitExit(c.opts.StopTimeout) {
		c.t.Errorf("cluster: %s did not exit within %v of SIGTERM; killing it\nlast lines:\n%s", p.name, c.opts.StopTimeout, p.sink.lastLines())
		if err := p.kill(10 * time.Second); err != nil {
			c.t.Fatal(err)
		}
		return time.Since(began)
	}
	took := time.Since(began)
	if code := p.state.ExitCode(); code != 0 {
		c.t.Errorf("cluster: %s ended with %s after SIGTERM, want exit status 0\nlast lines:\n%s", p.name, p.describeExit(), p.sink.lastLines())
	}
	return took
}

// Pause stops server i with SIGSTOP, as a hung machine would be: its
// connections stay open and nothing answers. It returns once the kernel
// reports the process stopped.
func (c *Cluster) Pause(i int) {
	c.t.Helper()
	p := c.current(i, "Pause")
	if err := p.signal(syscall.SIGSTOP); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.member(i).paused = true
	c.mu.Unlock()
	c.waitProcState(p, true)
}

// Resume continues server i with SIGCONT.
func (c *Cluster) Resume(i int) {
	c.t.Helper()
	p := c.current(i, "Resume")
	if err := p.signal(syscall.SIGCONT); err != nil {
		c.t.Fatal(err)
	}
	c.waitProcState(p, false)
	c.mu.Lock()
	c.member(i).paused = false
	c.mu.Unlock()
}

// waitProcState polls /proc until the process is (or is no longer) stopped.
func (c *Cluster) waitProcState(p *process, stopped bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := Eventually(ctx, fmt.Sprintf("%s stopped=%v", p.name, stopped), func(context.Context) error {
		st := procState(p.pid())
		if st == "" || (st == "T") == stopped {
			return nil // "": cannot tell on this system, or gone
		}
		return fmt.Errorf("state %q", st)
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// Dump makes server i print every goroutine's stack to its log and exit
// (SIGQUIT, as the Go runtime handles it), for a test that found the server
// hung. It returns the process state seen just before ("S", "T", ...).
func (c *Cluster) Dump(i int) string {
	c.t.Helper()
	p := c.current(i, "Dump")
	st := procState(p.pid())
	p.expected.Store(true)
	if err := p.signal(syscall.SIGQUIT); err != nil {
		c.t.Fatal(err)
	}
	if st == "T" {
		p.signal(syscall.SIGCONT) // a stopped process handles SIGQUIT once continued
	}
	if !p.waitExit(10 * time.Second) {
		if err := p.kill(10 * time.Second); err != nil {
			c.t.Fatal(err)
		}
	}
	c.mu.Lock()
	c.member(i).paused = false
	c.mu.Unlock()
	return st
}

// Restart starts server i again with the same flags, data directory and
// ports, stopping it first (SIGTERM, as Stop) if it is running. It returns
// once the new process answers HTTP; call WaitReady to wait for leaders.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Running(i) {
		c.Stop(i)
	}
	c.mu.Lock()
	m := c.member(i)
	err := c.launchLocked(m)
	p := m.proc
	c.mu.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitUp(p, m.httpAddr, false)
}

// waitUp waits until process p answers HTTP at addr (with 200 on
// /v1/ready when ready is set), failing the test if it exits first or
// Options.ReadyTimeout passes.
func (c *Cluster) waitUp(p *process, addr string, ready bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ReadyTimeout)
	defer cancel()
	what := fmt.Sprintf("%s answers HTTP", p.name)
	if ready {
		what = fmt.Sprintf("%s ready", p.name)
	}
	err := Eventually(ctx, what, func(ctx context.Context) error {
		if p.exited() {
			return fmt.Errorf("%w: %s exited: %s\nlast lines:\n%s", errGaveUp, p.name, p.describeExit(), p.sink.lastLines())
		}
		code, err := c.probe(ctx, addr)
		if err == nil && ready && code != http.StatusOK {
			err = fmt.Errorf("/v1/ready: %d", code)
		}
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// current returns server i's live process or fails the test.
func (c *Cluster) current(i int, op string) *process {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.member(i)
	if !m.running() {
		state := "never started"
		if m.proc != nil {
			state = m.proc.describeExit()
		}
		c.t.Fatalf("cluster: %s(%d): %s is not running (%s)", op, i, m.node, state)
	}
	return m.proc
}

// probe GETs /v1/ready and returns the status code.
func (c *Cluster) probe(ctx context.Context, addr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/ready", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// upMembers returns the servers running and not paused, and an error if a
// server that should be running has crashed.
func (c *Cluster) upMembers() ([]*member, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []*member
	for _, m := range c.members {
		if m.proc != nil && m.proc.crashed() {
			return nil, fmt.Errorf("%w: %s exited on its own: %s\nlast lines:\n%s", errGaveUp, m.proc.name, m.proc.describeExit(), m.sink.lastLines())
		}
		if m.running() && !m.paused {
			up = append(up, m)
		}
	}
	return up, nil
}

// shardViews asks each server that is up for status.shards.
func (c *Cluster) shardViews(ctx context.Context, up []*member) (map[*member]*rpc.StatusShardsResult, error) {
	views := map[*member]*rpc.StatusShardsResult{}
	for _, m := range up {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := m.client.StatusShards(cctx, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: status.shards: %w", m.node, err)
		}
		views[m] = res
	}
	return views, nil
}

// agreedLeader returns the node every view names as the leader of shard
// id, if they agree and it is one of the servers up.
func agreedLeader(views map[*member]*rpc.StatusShardsResult, up []*member, id shard.ID) (string, error) {
	leader := ""
	for m, v := range views {
		found := false
		for _, s := range v.Shards {
			if s.ID != uint64(id) {
				continue
			}
			found = true
			switch {
			case s.LeaderNode == "":
				return "", fmt.Errorf("%v: %s knows no leader", id, m.node)
			case leader != "" && s.LeaderNode != leader:
				return "", fmt.Errorf("%v: servers disagree on the leader (%s, %s)", id, leader, s.LeaderNode)
			}
			leader = s.LeaderNode
		}
		if !found {
			return "", fmt.Errorf("%w: %s has no %v", errGaveUp, m.node, id)
		}
	}
	for _, m := range up {
		if m.node == leader {
			return leader, nil
		}
	}
	return "", fmt.Errorf("%v: the leader %q is not a server that is up", id, leader)
}

// WaitReady waits until every server that is up (running, not paused)
// answers 200 on /v1/ready, and agrees with the others on a leader for
// every shard, that leader being up too. It returns early with an error
// if a server crashed.
func (c *Cluster) WaitReady(ctx context.Context) error {
	return Eventually(ctx, "every shard has a leader known to every server", func(ctx context.Context) error {
		up, err := c.upMembers()
		if err != nil {
			return err
		}
		if len(up) == 0 {
			return fmt.Errorf("%w: no server is up", errGaveUp)
		}
		for _, m := range up {
			code, err := c.probe(ctx, m.httpAddr)
			if err != nil {
				return fmt.Errorf("%s: %w", m.node, err)
			}
			if code != http.StatusOK {
				return fmt.Errorf("%s: GET /v1/ready: HTTP %d", m.node, code)
			}
		}
		views, err := c.shardViews(ctx, up)
		if err != nil {
			return err
		}
		for _, id := range shard.All(c.opts.KVShards) {
			if _, err := agreedLeader(views, up, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// Leader returns the index of the server leading shard id, once every
// server that is up agrees on it and it is up itself.
func (c *Cluster) Leader(ctx context.Context, id shard.ID) (int, error) {
	idx := -1
	err := Eventually(ctx, fmt.Sprintf("agreement on the leader of %v", id), func(ctx context.Context) error {
		up, err := c.upMembers()
		if err != nil {
			return err
		}
		if 2*len(up) <= len(c.members) {
			return fmt.Errorf("%w: only %d of %d servers are up: no quorum", errGaveUp, len(up), len(c.members))
		}
		views, err := c.shardViews(ctx, up)
		if err != nil {
			return err
		}
		node, err := agreedLeader(views, up, id)
		if err != nil {
			return err
		}
		idx = c.Index(node)
		return nil
	})
	return idx, err
}

// Followers returns the servers that are up and do not lead shard id.
func (c *Cluster) Followers(ctx context.Context, id shard.ID) ([]int, error) {
	leader, err := c.Leader(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []int
	for i := range c.members {
		if i != leader && c.Up(i) {
			out = append(out, i)
		}
	}
	return out, nil
}
