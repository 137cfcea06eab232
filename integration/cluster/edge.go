package cluster

import (
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"meridian/integration/freeport"
	"meridian/rpc"
)

// AddEdge starts a `meridian edge` process named node that joins the LAN
// pool through server 0's gossip address, with more flags in args (e.g.
// -config-dir). It returns the edge's index once the edge is ready (it
// knows a live server).
func (c *Cluster) AddEdge(node string, args ...string) int {
	c.t.Helper()
	return c.AddEdgeVia(0, node, args...)
}

// AddEdgeVia is AddEdge joining through server via's gossip address.
func (c *Cluster) AddEdgeVia(via int, node string, args ...string) int {
	c.t.Helper()
	pp, err := freeport.Ports(2)
	if err != nil {
		c.t.Fatal(err)
	}
	m := &member{
		node:     node,
		httpAddr: "127.0.0.1:" + strconv.Itoa(pp[0]),
		lanAddr:  "127.0.0.1:" + strconv.Itoa(pp[1]),
		dataDir:  filepath.Join(c.dir, node),
	}
	m.sink = newLogSink(node, func(line string) { c.t.Log(line) })
	m.args = append([]string{"edge",
		"-node", node,
		"-data-dir", m.dataDir,
		"-http-addr", m.httpAddr,
		"-lan-addr", m.lanAddr, "-dns-addr", "127.0.0.1:0",
		"-join", c.member(via).lanAddr,
		"-dc", c.opts.DC,
		"-gossip-profile", "local",
		"-log-level", c.opts.LogLevel,
	}, args...)
	cl, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{m.httpAddr}})
	if err != nil {
		c.t.Fatal(err)
	}
	m.client = cl
	c.mu.Lock()
	c.edges = append(c.edges, m)
	i := len(c.edges) - 1
	err = c.launchLocked(m)
	c.mu.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitEdgeReady(i)
	return i
}

func (c *Cluster) edge(i int) *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.edges) {
		c.t.Fatalf("cluster: no edge %d (have %d)", i, len(c.edges))
	}
	return c.edges[i]
}

// EdgeClient is a client of edge i's JSON-RPC.
func (c *Cluster) EdgeClient(i int) *rpc.Client { return c.edge(i).client }

// EdgeHTTPAddr is edge i's HTTP address (JSON-RPC at /rpc).
func (c *Cluster) EdgeHTTPAddr(i int) string { return c.edge(i).httpAddr }

// EdgeNode is edge i's node name.
func (c *Cluster) EdgeNode(i int) string { return c.edge(i).node }

// KillEdge sends SIGKILL to edge i and waits until it is gone.
func (c *Cluster) KillEdge(i int) {
	c.t.Helper()
	m := c.edge(i)
	if m.proc == nil || m.proc.exited() {
		c.t.Fatalf("cluster: KillEdge: edge %s is not running", m.node)
	}
	if err := m.proc.kill(10 * time.Second); err != nil {
		c.t.Fatal(err)
	}
}

// StopEdge sends SIGTERM to edge i and waits for it to exit with status 0:
// it leaves gossip gracefully on the way out.
func (c *Cluster) StopEdge(i int) {
	c.t.Helper()
	m := c.edge(i)
	p := m.proc
	if p == nil || p.exited() {
		c.t.Fatalf("cluster: StopEdge: edge %s is not running", m.node)
	}
	p.expected.Store(true)
	if err := p.signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	if !p.waitExit(c.opts.StopTimeout) {
		c.t.Fatalf("cluster: edge %s did not exit within %v of SIGTERM\nlast lines:\n%s", m.node, c.opts.StopTimeout, p.sink.lastLines())
	}
	if code := p.state.ExitCode(); code != 0 {
		c.t.Errorf("cluster: edge %s ended with %s after SIGTERM\nlast lines:\n%s", m.node, p.describeExit(), p.sink.lastLines())
	}
}

// RestartEdge starts edge i again with the same flags and ports and waits
// until it is ready.
func (c *Cluster) RestartEdge(i int) {
	c.t.Helper()
	m := c.edge(i)
	c.mu.Lock()
	err := c.launchLocked(m)
	c.mu.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitEdgeReady(i)
}

func (c *Cluster) waitEdgeReady(i int) {
	c.t.Helper()
	m := c.edge(i)
	c.waitUp(m.proc, m.httpAddr, true)
}
