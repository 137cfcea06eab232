package cluster

import (
	"os/exec"
	"path/filepath"
	"strconv"

	"meridian/integration/freeport"
	"meridian/rpc"
)

// AddServer starts a new server that joins the running datacenter through
// gossip (no -peers, no -bootstrap-expect) and returns its index once it
// is ready (its shards have leaders).
func (c *Cluster) AddServer() int {
	c.t.Helper()
	pp, err := freeport.Ports(4)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	i := len(c.members)
	m := &member{
		node:     "s" + strconv.Itoa(i+1),
		raftAddr: "127.0.0.1:" + strconv.Itoa(pp[0]),
		httpAddr: "127.0.0.1:" + strconv.Itoa(pp[1]),
		lanAddr:  "127.0.0.1:" + strconv.Itoa(pp[2]),
		wanAddr:  "127.0.0.1:" + strconv.Itoa(pp[3]),
	}
	m.dataDir = filepath.Join(c.dir, m.node)
	m.sink = newLogSink(m.node, func(line string) { c.t.Log(line) })
	m.args = append([]string{"server",
		"-node", m.node,
		"-data-dir", m.dataDir,
		"-raft-addr", m.raftAddr,
		"-http-addr", m.httpAddr,
		"-lan-addr", m.lanAddr, "-dns-addr", "127.0.0.1:0",
		"-join", c.members[0].lanAddr,
		"-dc", c.opts.DC, "-wan-addr", m.wanAddr, "-join-wan", c.members[0].wanAddr,
		"-gossip-profile", "local",
		"-log-level", c.opts.LogLevel,
		"-raft-logdb", c.opts.LogDB,
	}, c.opts.Args...)
	for _, a := range c.opts.JoinWAN {
		m.args = append(m.args, "-join-wan", a)
	}
	cl, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{m.httpAddr}})
	if err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	m.client = cl
	c.members = append(c.members, m)
	err = c.launchLocked(m)
	p := m.proc
	c.mu.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitUp(p, m.httpAddr, true)
	return i
}

// Leave runs `meridian leave` against server i: it leaves every shard and
// the gossip pool, and exits with status 0, which Leave waits for.
func (c *Cluster) Leave(i int) {
	c.t.Helper()
	p := c.current(i, "Leave")
	p.expected.Store(true)
	out, err := exec.Command(c.bin, "leave", "-http-addr", c.HTTPAddr(i)).CombinedOutput()
	if err != nil {
		c.t.Fatalf("meridian leave: %v\n%s", err, out)
	}
	if !p.waitExit(c.opts.StopTimeout) {
		c.t.Fatalf("cluster: %s did not exit within %v of leaving\nlast lines:\n%s", p.name, c.opts.StopTimeout, p.sink.lastLines())
	}
	if code := p.state.ExitCode(); code != 0 {
		c.t.Errorf("cluster: %s ended with %s after leaving\nlast lines:\n%s", p.name, p.describeExit(), p.sink.lastLines())
	}
}
