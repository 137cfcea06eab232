package raftnode

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/lni/dragonboat/v4/logger"
)

var routeOnce sync.Once

// RouteLogs sends dragonboat's logs to l, dropping those below level. It
// takes effect once per process (dragonboat panics on a second factory);
// later calls are no-ops.
func RouteLogs(l *slog.Logger, level slog.Level) {
	routeOnce.Do(func() {
		logger.SetLoggerFactory(func(pkg string) logger.ILogger {
			a := &slogAdapter{l: l.With("component", "dragonboat", "pkg", pkg), min: level}
			// These packages report routine events (elections, "TLS is
			// off") as warnings; they are debug detail for us.
			a.demote = pkg == "raft" || pkg == "config"
			// The transport reports a peer it cannot reach at every
			// reconnect attempt, as errors: one warning per kind of
			// message every 30 s says the same.
			if pkg == "transport" {
				a.limit = &rateLimit{every: 30 * time.Second, last: map[string]time.Time{}}
			}
			return a
		})
		// Pebble, under dragonboat's LogDB, logs through the standard
		// library's log package (which dragonboat's capnslog takes
		// over at init, outside the factory above).
		log.SetFlags(0)
		log.SetPrefix("")
		log.SetOutput(&stdLog{l: l.With("component", "dragonboat", "pkg", "pebble"), min: level,
			limit: &rateLimit{every: 10 * time.Second, last: map[string]time.Time{}}})
	})
}

// stdLog turns the standard log package's lines into warnings. Pebble
// writes there only what is worth seeing (a failed flush, a failed WAL
// write before the panic), but a failed flush is retried in a loop and
// logged each time, with a new file name: lines that differ only in their
// numbers pass once per period, the rest go to debug.
type stdLog struct {
	l     *slog.Logger
	min   slog.Level
	limit *rateLimit
}

func (w *stdLog) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	level := slog.LevelWarn
	if !w.limit.allow(strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return -1
		}
		return r
	}, msg)) {
		level = slog.LevelDebug
	}
	if level >= w.min {
		w.l.Log(context.Background(), level, msg)
	}
	return len(p), nil
}

type slogAdapter struct {
	l      *slog.Logger
	min    slog.Level
	demote bool       // warnings become debug
	limit  *rateLimit // errors become warnings, each format once per period
}

// rateLimit lets each format string through once per period.
type rateLimit struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
}

func (r *rateLimit) allow(format string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if t, ok := r.last[format]; ok && now.Sub(t) < r.every {
		return false
	}
	r.last[format] = now
	return true
}

func (a *slogAdapter) SetLevel(logger.LogLevel) {} // the slog level rules

func (a *slogAdapter) log(level slog.Level, format string, args ...any) {
	if level < a.min || !a.l.Enabled(context.Background(), level) {
		return
	}
	a.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (a *slogAdapter) Debugf(f string, args ...any) { a.log(slog.LevelDebug, f, args...) }
func (a *slogAdapter) Infof(f string, args ...any)  { a.log(slog.LevelInfo, f, args...) }
func (a *slogAdapter) Warningf(f string, args ...any) {
	if a.limit != nil && !a.limit.allow(f) {
		a.log(slog.LevelDebug, f, args...)
		return
	}
	if a.demote {
		a.log(slog.LevelDebug, f, args...)
		return
	}
	a.log(slog.LevelWarn, f, args...)
}
func (a *slogAdapter) Errorf(f string, args ...any) {
	if a.limit != nil {
		if a.limit.allow(f) {
			a.log(slog.LevelWarn, f, args...)
		} else {
			a.log(slog.LevelDebug, f, args...)
		}
		return
	}
	a.log(slog.LevelError, f, args...)
}
func (a *slogAdapter) Panicf(f string, args ...any) {
	a.log(slog.LevelError, f, args...)
	panic(fmt.Sprintf(f, args...))
}
