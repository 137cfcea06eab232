package cluster

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// RestartExpectingExit starts server i again (it must not be running)
// for a test that expects the run to fail, e.g. on a damaged data
// directory. It waits up to d for the process to exit on its own and
// returns its exit code and every line it wrote. running is true when it
// was still running after d; it is killed then. The exit is not reported
// as a crash.
func (c *Cluster) RestartExpectingExit(i int, d time.Duration) (code int, output string, running bool) {
	c.t.Helper()
	c.mu.Lock()
	m := c.member(i)
	if m.running() {
		c.mu.Unlock()
		c.t.Fatalf("cluster: RestartExpectingExit(%d): %s is running", i, m.node)
	}
	m.runs++
	name := fmt.Sprintf("%s#%d", m.node, m.runs)
	var (
		mu    sync.Mutex
		lines []string
	)
	sink := newLogSink(name, func(line string) {
		c.t.Log(line)
		mu.Lock()
		lines = append(lines, line)
		mu.Unlock()
	})
	p, err := startProcess(c.bin, m.args, name, sink)
	if err == nil {
		p.expected.Store(true)
		m.proc, m.paused = p, false
		c.procs = append(c.procs, p)
	}
	c.mu.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	if !p.waitExit(d) {
		running = true
		if err := p.kill(10 * time.Second); err != nil {
			c.t.Fatal(err)
		}
	}
	sink.mute()
	mu.Lock()
	defer mu.Unlock()
	return p.state.ExitCode(), strings.Join(lines, "\n"), running
}

// ExpectExit marks the exit of server i's current run as expected, for a
// test that makes it fail (a full disk): it is not reported as a crash,
// and waits do not give up on it.
func (c *Cluster) ExpectExit(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.member(i).proc; p != nil {
		p.expected.Store(true)
	}
}
