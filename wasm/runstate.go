package wasm

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

const (
	maxNotes       = 16   // host notes kept per run
	maxLogRecords  = 32   // guest log records per run
	maxLogBytes    = 1024 // per guest log record
	maxRefusals    = 16   // refusals listed in Result.Refused
	maxRequestJSON = 1 << 20
)

// runState is what one run of a check owns: its arguments, grants,
// limits, output and the host's notes. Host functions find it in the
// context of the call (runKey); the WASI stdout/stderr writers and
// nanosleep reach it through their instance.
//
// The guest runs on one goroutine; only netBytes is also touched by the
// HTTP transport's reader goroutine.
type runState struct {
	m         *Module
	ctx       context.Context // the run's context: deadline and values
	name      string
	args      []byte
	grants    grantSet
	rawGrants []string
	lim       Limits

	output    []byte // from set_output
	outputSet bool
	stdio     []byte // WASI stdout and stderr, in write order
	truncated bool   // some guest output did not fit

	mu           sync.Mutex // notes and refusals: a late HTTP dial may add one
	notes        []string
	notesDropped int
	refused      []string
	logs         int
	logsDropped  int

	netBytes atomic.Int64 // bytes read from the network
}

type runKey struct{}

func stateFrom(ctx context.Context) *runState {
	rs, _ := ctx.Value(runKey{}).(*runState)
	return rs
}

// note records a line the user sees at the end of the output.
func (rs *runState) note(format string, args ...any) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.notes) >= maxNotes {
		rs.notesDropped++
		return
	}
	rs.notes = append(rs.notes, "meridian: "+fmt.Sprintf(format, args...))
}

// refuse records a network call the grants did not allow.
func (rs *runState) refuse(call, target, why string) {
	rs.mu.Lock()
	if len(rs.refused) < maxRefusals {
		rs.refused = append(rs.refused, call+" "+target)
	}
	rs.mu.Unlock()
	rs.note("%s %s refused: %s (grants: %s)", call, target, why, rs.grantList())
	rs.m.rt.log.Debug("wasm check: network call refused", "module", rs.m.short, "check", rs.name,
		"call", call, "target", target, "why", why)
}

func (rs *runState) refusals() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.refused...)
}

func (rs *runState) grantList() string {
	if len(rs.rawGrants) == 0 {
		return "none"
	}
	return strings.Join(rs.rawGrants, ", ")
}

func (rs *runState) setOutput(p []byte) int {
	n := len(p)
	if n > rs.lim.MaxOutput {
		n = utf8Prefix(p, rs.lim.MaxOutput)
		rs.truncated = true
	}
	rs.output = append(rs.output[:0], p[:n]...)
	rs.outputSet = true
	return n
}

func (rs *runState) writeStdio(p []byte) {
	room := rs.lim.MaxOutput - len(rs.stdio)
	if len(p) > room {
		rs.truncated = true
		p = p[:max(room, 0)]
	}
	rs.stdio = append(rs.stdio, p...)
}

// netRemaining is what is left of the run's network budget.
func (rs *runState) netRemaining() int64 {
	return rs.lim.MaxNetworkBytes - rs.netBytes.Load()
}

// callContext bounds a network call: the guest's timeout if it gave one,
// never past the run's deadline.
func (rs *runState) callContext(timeoutMS int64) (context.Context, context.CancelFunc) {
	if timeoutMS > 0 && timeoutMS < int64(capTimeout/time.Millisecond) {
		return context.WithTimeout(rs.ctx, time.Duration(timeoutMS)*time.Millisecond)
	}
	return context.WithCancel(rs.ctx)
}

// text assembles the output: the guest's text (set_output if it was
// called, else what it wrote to stdout and stderr) and then the host's
// notes, within MaxOutput; the notes are kept when the guest's text is cut.
func (rs *runState) text() string {
	guest := rs.stdio
	if rs.outputSet {
		guest = rs.output
	}
	if !utf8.Valid(guest) {
		guest = bytes.ToValidUTF8(guest, []byte("\uFFFD"))
	}
	if rs.truncated {
		rs.note("output truncated to %d bytes", rs.lim.MaxOutput)
	}
	if rs.logsDropped > 0 {
		rs.note("%d log records dropped (at most %d per run)", rs.logsDropped, maxLogRecords)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var notes string
	if len(rs.notes) > 0 {
		notes = strings.Join(rs.notes, "\n")
		if rs.notesDropped > 0 {
			notes += fmt.Sprintf("\nmeridian: %d more notes dropped", rs.notesDropped)
		}
	}
	limit := rs.lim.MaxOutput
	if notes == "" {
		return string(guest[:utf8Prefix(guest, limit)])
	}
	if len(notes) >= limit {
		return notes[:utf8Prefix([]byte(notes), limit)]
	}
	sep := ""
	if len(guest) > 0 && guest[len(guest)-1] != '\n' {
		sep = "\n"
	}
	room := limit - len(notes) - len(sep)
	if len(guest) > room {
		guest = guest[:utf8Prefix(guest, max(room-1, 0))]
		sep = "\n"
	}
	if len(guest) == 0 {
		return notes
	}
	return string(guest) + sep + notes
}

// utf8Prefix returns the length of the longest prefix of p, at most n
// bytes, that does not cut a UTF-8 sequence in two.
func utf8Prefix(p []byte, n int) int {
	if len(p) <= n {
		return len(p)
	}
	if n <= 0 {
		return 0
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(p[i]) {
		i--
	}
	if !utf8.RuneStart(p[i]) {
		return n // not UTF-8 anyway
	}
	return i
}
