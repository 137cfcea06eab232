package wasm

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// Check statuses, the Nagios plugin convention.
const (
	Passing  = 0
	Warning  = 1
	Critical = 2
)

// Check is one run's input: what the module gets and may do.
type Check struct {
	// Name identifies the check in logs.
	Name string
	// Args is the JSON the module reads with args_len/args_read.
	Args json.RawMessage
	// Grants are the network targets the module may reach (see
	// ValidateGrants); an invalid grant is ignored and noted in the
	// output.
	Grants []string
	// Limits override Config.Defaults, up to Config.Caps.
	Limits Limits
}

// Result is the outcome of one run.
type Result struct {
	// Status is Passing, Warning or Critical.
	Status int
	// Output is the module's text (set_output, else its stdout and
	// stderr) followed by the runtime's notes, one per line, each
	// starting with "meridian: " (refused calls, trap, time-out, ...).
	Output string
	// Refused lists the network calls the grants refused ("call target").
	Refused []string
	// Duration is the wall-clock time of the run.
	Duration time.Duration
}

// Module is a validated, compiled check module. Run it as often as
// needed, from any goroutine: each concurrent run gets its own instance,
// and instances are kept for the next run of the same check (same
// arguments, grants and memory limit) unless the run trapped, timed out,
// exited or hit the memory limit.
type Module struct {
	rt       *Runtime
	info     ModuleInfo
	short    string // digest prefix for logs
	compiled wazero.CompiledModule

	mu     sync.Mutex
	refs   int
	closed bool
	// idle instances by pool key, and all of them in use order (least
	// recently used first) for eviction past MaxIdle: a lookup costs the
	// same with ten idle instances or ten thousand.
	idle map[string][]*instance
	lru  list.List
}

// instance is one instantiation of a Module; one run at a time uses it.
type instance struct {
	mod   api.Module
	check api.Function
	key   string
	mem   *memoryLimiter
	run   *runState // the run in progress, nil between runs
	stack [1]uint64
	elem  *list.Element // in Module.lru while idle
}

// Info describes the module.
func (m *Module) Info() ModuleInfo {
	info := m.info
	info.Imports = append([]string(nil), info.Imports...)
	return info
}

// ref takes a reference for Load, unless the module is closing.
func (m *Module) ref() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.refs++
	return true
}

// Close releases one Load of the module; the last release frees its
// instances and compiled code (runs in progress finish first). Safe to
// call more often than Load: the extra calls do nothing.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.refs--
	if m.refs > 0 {
		m.mu.Unlock()
		return nil
	}
	idle := m.markClosed()
	m.mu.Unlock()
	m.rt.forget(m)
	m.release(ctx, idle)
	return nil
}

// shutdown closes the module regardless of references (Runtime.Close).
func (m *Module) shutdown(ctx context.Context) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	idle := m.markClosed()
	m.mu.Unlock()
	m.release(ctx, idle)
}

// markClosed closes the module to new runs and Loads; m.mu is held.
func (m *Module) markClosed() []*instance {
	m.closed = true
	idle := make([]*instance, 0, m.lru.Len())
	for e := m.lru.Front(); e != nil; e = e.Next() {
		idle = append(idle, e.Value.(*instance))
	}
	m.idle = nil
	m.lru.Init()
	return idle
}

// takeIdle removes in from the idle sets; m.mu is held.
func (m *Module) takeIdle(in *instance) {
	m.lru.Remove(in.elem)
	in.elem = nil
	l := m.idle[in.key]
	for i, x := range l {
		if x == in {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(m.idle, in.key)
	} else {
		m.idle[in.key] = l
	}
}

func (m *Module) release(ctx context.Context, idle []*instance) {
	for _, in := range idle {
		in.mod.Close(ctx)
	}
	m.compiled.Close(ctx)
}

// Run runs the check once and reports its status. It never panics and
// returns by the check's deadline (plus the time a guest needs to notice
// it). A trap, a time-out, a refused instantiation or a memory-limit hit
// make the check critical, with the reason in the output.
func (m *Module) Run(ctx context.Context, c Check) (res Result) {
	start := time.Now()
	lim := c.Limits.or(m.rt.cfg.Defaults).min(m.rt.cfg.Caps)
	rs := &runState{m: m, name: c.Name, args: c.Args, rawGrants: c.Grants, grants: parseGrants(c.Grants), lim: lim}
	status := Critical
	defer func() {
		if p := recover(); p != nil {
			status = Critical
			rs.note("internal error: %v", p)
			m.rt.log.Error("wasm check: panic", "module", m.short, "check", c.Name, "panic", p)
		}
		res = Result{Status: status, Output: rs.text(), Refused: rs.refusals(), Duration: time.Since(start)}
	}()
	for _, bad := range rs.grants.invalid {
		rs.note("%s (ignored)", strings.TrimPrefix(bad, "wasm: "))
	}
	if err := ctx.Err(); err != nil {
		rs.note("check not run: %v", err)
		return
	}
	if m.rt.closed.Load() {
		rs.note("check not run: %v", ErrClosed)
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	runCtx = context.WithValue(runCtx, runKey{}, rs)
	rs.ctx = runCtx

	in, err := m.get(runCtx, poolKey(lim.MemoryPages, c), rs)
	if err != nil {
		switch {
		case runCtx.Err() != nil:
			rs.note("%s (while starting the module)", stopped(ctx, lim, start))
		default:
			rs.note("%v", err)
		}
		return
	}
	reuse := false
	defer func() { // also when call panics
		in.run = nil
		if reuse {
			m.put(in)
		} else {
			in.mod.Close(context.Background())
		}
	}()
	status, reuse = m.call(ctx, runCtx, in, rs, lim, start)
	return
}

// call runs `check` on an instance and interprets the outcome.
func (m *Module) call(ctx, runCtx context.Context, in *instance, rs *runState, lim Limits, start time.Time) (status int, reuse bool) {
	err := in.check.CallWithStack(runCtx, in.stack[:])
	var exit *sys.ExitError
	switch {
	case runCtx.Err() != nil:
		// Late, even if it returned: a WASI sleep or a network call was
		// cut short by the deadline.
		status = Critical
		rs.note("%s", stopped(ctx, lim, start))
	case err == nil:
		status = statusOf(rs, uint32(in.stack[0]), "returned")
		reuse = !in.mod.IsClosed()
	case m.rt.closed.Load():
		status = Critical
		rs.note("check stopped: %v", ErrClosed)
	case errors.As(err, &exit):
		status = statusOf(rs, exit.ExitCode(), "exited with code")
		if c := exit.ExitCode(); c == Warning || c == Critical {
			rs.note("check exited with code %d", c)
		}
	default:
		status = Critical
		rs.note("check trapped: %v", err)
	}
	if lm := in.mem.mem; lm != nil && lm.hit {
		status, reuse = Critical, false
		rs.note("memory limit of %d pages (%s) reached", lim.MemoryPages, pagesSize(lim.MemoryPages))
	}
	return status, reuse
}

func statusOf(rs *runState, v uint32, how string) int {
	switch v {
	case Passing, Warning, Critical:
		return int(v)
	}
	rs.note("check %s %d: anything but 0, 1, 2 is critical", how, int32(v))
	return Critical
}

// stopped says why a run ended with its context done.
func stopped(parent context.Context, lim Limits, start time.Time) string {
	switch {
	case parent.Err() == nil:
		return fmt.Sprintf("check timed out after %s", lim.Timeout)
	case errors.Is(parent.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("check timed out after %s", time.Since(start).Round(time.Millisecond))
	default:
		return "check canceled"
	}
}

func pagesSize(pages uint32) string {
	b := uint64(pages) * pageSize
	if b%(1<<20) == 0 {
		return strconv.FormatUint(b>>20, 10) + " MiB"
	}
	return strconv.FormatUint(b>>10, 10) + " KiB"
}

// poolKey identifies the runs that may share an instance: a guest keeps
// state in its memory between runs, so only runs of the same check (same
// arguments and grants) and the same memory limit share one.
func poolKey(pages uint32, c Check) string {
	if len(c.Args) == 0 && len(c.Grants) == 0 {
		return strconv.FormatUint(uint64(pages), 10)
	}
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(pages), 10))
	b.WriteByte(0)
	b.Write(c.Args)
	for _, g := range c.Grants {
		b.WriteByte(0)
		b.WriteString(g)
	}
	return b.String()
}

// get returns an idle instance for key, or a new one.
func (m *Module) get(ctx context.Context, key string, rs *runState) (*instance, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrModuleClosed
		}
		var in *instance
		if l := m.idle[key]; len(l) > 0 {
			in = l[len(l)-1] // the most recently used
			m.takeIdle(in)
		}
		m.mu.Unlock()
		if in == nil {
			break
		}
		if in.mod.IsClosed() {
			continue
		}
		in.run = rs
		return in, nil
	}
	return m.instantiate(ctx, key, rs)
}

// put keeps an instance for reuse, dropping the least recently used one
// when more than MaxIdle are idle.
func (m *Module) put(in *instance) {
	m.mu.Lock()
	if m.closed || m.rt.cfg.MaxIdle == 0 {
		m.mu.Unlock()
		in.mod.Close(context.Background())
		return
	}
	if m.idle == nil {
		m.idle = map[string][]*instance{}
	}
	m.idle[in.key] = append(m.idle[in.key], in)
	in.elem = m.lru.PushBack(in)
	var drop *instance
	if m.lru.Len() > m.rt.cfg.MaxIdle {
		drop = m.lru.Front().Value.(*instance)
		m.takeIdle(drop)
	}
	m.mu.Unlock()
	if drop != nil {
		drop.mod.Close(context.Background())
	}
}

func (m *Module) instantiate(ctx context.Context, key string, rs *runState) (*instance, error) {
	pages := rs.lim.MemoryPages
	if m.info.MemoryPages > pages {
		return nil, fmt.Errorf("module needs %d pages of memory to start, the limit is %d (%s)",
			m.info.MemoryPages, pages, pagesSize(pages))
	}
	in := &instance{key: key, mem: &memoryLimiter{limit: uint64(pages) * pageSize}, run: rs}
	ictx := experimental.WithMemoryAllocator(ctx, in.mem)
	mod, err := m.rt.wr.InstantiateModule(ictx, m.compiled, m.rt.newModuleConfig(in, m.info.Reactor))
	if err != nil {
		if m.rt.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("module failed to start: %v", err)
	}
	if lm := in.mem.mem; lm != nil && (lm.overMin || lm.hit) {
		mod.Close(context.Background())
		return nil, fmt.Errorf("memory limit of %d pages (%s) reached while starting the module", pages, pagesSize(pages))
	}
	in.mod = mod
	in.check = mod.ExportedFunction("check")
	if in.check == nil {
		mod.Close(context.Background())
		return nil, errors.New("module has no check export")
	}
	return in, nil
}

// nanosleep is WASI's sleep (poll_oneoff on a clock) for this instance:
// it ends early when the run's context is done, so a guest that sleeps
// cannot hold a run past its deadline.
func (in *instance) nanosleep(ns int64) {
	rs := in.run
	if rs == nil || ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-rs.ctx.Done():
	}
}
