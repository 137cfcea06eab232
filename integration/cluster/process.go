package cluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// process is one run of a server: started once, reaped once.
type process struct {
	name    string // "s2" or "s2#2" for its second run
	cmd     *exec.Cmd
	started time.Time
	sink    *logSink

	// expected is set before we signal the process to end, so that its
	// exit is not reported as a crash.
	expected atomic.Bool
	done     chan struct{} // closed once reaped; state is set before
	state    *os.ProcessState
	waitErr  error
}

// live is the bookkeeping of every process started and not yet reaped, for
// the leak check of Main.
var live struct {
	mu   sync.Mutex
	pids map[int]string
	// goroutines counts this package's goroutines still running (one
	// reaper per process).
	goroutines atomic.Int64
}

func startProcess(bin string, args []string, name string, sink *logSink) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout = sink
	cmd.Stderr = sink
	cmd.Env = os.Environ()
	cmd.SysProcAttr = sysProcAttr()
	// The output pipe closes when the process ends (it starts nothing of
	// its own); this bounds Wait should that ever change.
	cmd.WaitDelay = 5 * time.Second
	p := &process{name: name, cmd: cmd, sink: sink, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cluster: start %s: %w", name, err)
	}
	p.started = time.Now()
	live.mu.Lock()
	if live.pids == nil {
		live.pids = map[int]string{}
	}
	live.pids[cmd.Process.Pid] = name
	live.mu.Unlock()
	live.goroutines.Add(1)
	go p.reap()
	return p, nil
}

// reap waits for the process and records how it ended.
func (p *process) reap() {
	defer live.goroutines.Add(-1)
	err := p.cmd.Wait()
	p.state, p.waitErr = p.cmd.ProcessState, err
	live.mu.Lock()
	delete(live.pids, p.cmd.Process.Pid)
	live.mu.Unlock()
	close(p.done)
	if !p.expected.Load() {
		p.sink.logf("%s exited on its own after %v: %s", p.name, time.Since(p.started).Round(time.Millisecond), p.describeExit())
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// crashed reports whether the process ended without our asking.
func (p *process) crashed() bool { return p.exited() && !p.expected.Load() }

func (p *process) describeExit() string {
	if p.state == nil {
		return fmt.Sprintf("not reaped (%v)", p.waitErr)
	}
	return p.state.String()
}

func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("cluster: %s has exited (%s)", p.name, p.describeExit())
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("cluster: %s: signal %v: %w", p.name, sig, err)
	}
	return nil
}

// waitExit waits up to d for the process to be reaped.
func (p *process) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// kill sends SIGKILL (marking the exit as expected) and waits for it.
func (p *process) kill(d time.Duration) error {
	p.expected.Store(true)
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !p.exited() {
		return fmt.Errorf("cluster: kill %s: %w", p.name, err)
	}
	if !p.waitExit(d) {
		return fmt.Errorf("cluster: %s (pid %d) still running %v after SIGKILL", p.name, p.pid(), d)
	}
	return nil
}

// logSink receives a server's output: each line goes to the test log,
// prefixed with the process name, and the last lines are kept for error
// messages. After mute, lines are only kept: the test may have ended.
type logSink struct {
	out func(line string) // the test's Log

	mu      sync.Mutex
	prefix  string
	partial []byte
	tail    []string
	muted   bool
}

const tailLines = 40

func newLogSink(prefix string, out func(string)) *logSink {
	return &logSink{prefix: prefix, out: out}
}

// setPrefix names the current run ("s2#2") in the lines that follow.
func (s *logSink) setPrefix(p string) {
	s.mu.Lock()
	s.flushLocked()
	s.prefix = p
	s.mu.Unlock()
}

func (s *logSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.lineLocked(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(b), nil
}

// logf adds a line of our own to the server's log.
func (s *logSink) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	s.lineLocked("[cluster] " + fmt.Sprintf(format, args...))
}

func (s *logSink) flushLocked() {
	if len(s.partial) > 0 {
		s.lineLocked(string(s.partial))
		s.partial = nil
	}
}

func (s *logSink) lineLocked(line string) {
	line = s.prefix + ": " + line
	if len(s.tail) == tailLines {
		copy(s.tail, s.tail[1:])
		s.tail = s.tail[:tailLines-1]
	}
	s.tail = append(s.tail, line)
	if !s.muted {
		s.out(line)
	}
}

// lastLines returns the kept lines, oldest first.
func (s *logSink) lastLines() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	return strings.Join(s.tail, "\n")
}

func (s *logSink) mute() {
	s.mu.Lock()
	s.flushLocked()
	s.muted = true
	s.mu.Unlock()
}
