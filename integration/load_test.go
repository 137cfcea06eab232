package integration

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

// writeLoad runs concurrent writers of unique keys under one prefix, each
// pinned to a server and moving to the next when its server does not
// answer. A write is retried only on an error that says it was not
// applied; after an outcome-unknown error the writer records the key as
// "maybe" and moves on. Every attempt is recorded with its timing, so a
// test can tell what a client saw around a fault.
type writeLoad struct {
	c       *cluster.Cluster
	prefix  string
	writers int

	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	attempts []attempt
	final    map[string]outcome // by key, once the writer is done with it
	acks     int
}

type attempt struct {
	writer     int
	key        string
	server     int
	start, end time.Time
	out        outcome
	err        error
}

func (a attempt) took() time.Duration { return a.end.Sub(a.start) }

// valueFor is the one value ever written under key.
func valueFor(key string) string { return "v=" + key }

// startLoad starts writers writing keys PREFIX<writer>-<n>. Stop them with
// stopLoad (also registered as a cleanup).
func startLoad(t *testing.T, c *cluster.Cluster, prefix string, writers int) *writeLoad {
	l := &writeLoad{c: c, prefix: prefix, writers: writers, stop: make(chan struct{}), final: map[string]outcome{}}
	for w := range writers {
		l.wg.Add(1)
		go l.writer(w)
	}
	t.Cleanup(l.stopLoad)
	return l
}

func (l *writeLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// stopLoad stops the writers and waits for them. Safe to call twice.
func (l *writeLoad) stopLoad() {
	l.mu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *writeLoad) writer(w int) {
	defer l.wg.Done()
	srv := w % l.c.N()
	for n := 0; ; n++ {
		key := fmt.Sprintf("%s%02d-%06d", l.prefix, w, n)
		final, tried := notApplied, false
	retry:
		for !l.stopped() {
			tried = true
			// Above the server's own 10 s default, so that a request
			// stuck on the server shows its real duration.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			a := attempt{writer: w, key: key, server: srv, start: time.Now()}
			res, err := l.c.Client(srv).KVPut(ctx, &rpc.KVPutParams{Key: key, Value: []byte(valueFor(key))})
			a.end = time.Now()
			cancel()
			if err == nil && !res.OK {
				err = fmt.Errorf("put %q: ok=false without cas", key)
			}
			var down bool
			a.out, down = classify(err)
			a.err = err
			l.record(a)
			if down {
				srv = (srv + 1) % l.c.N()
			}
			switch a.out {
			case acked, maybe, failed:
				final = a.out
				break retry
			}
			// notApplied: the same key again, at once: the server has
			// already waited for a leader (LeaderWait) before saying so.
		}
		if tried {
			l.mu.Lock()
			l.final[key] = final
			l.mu.Unlock()
		}
		if l.stopped() {
			return
		}
	}
}

func (l *writeLoad) record(a attempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	if a.out == acked {
		l.acks++
	}
	l.mu.Unlock()
}

// ackCount is the number of writes acknowledged so far.
func (l *writeLoad) ackCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks
}

// firstAckAfter returns the first write sent at or after t that was
// acknowledged, if there is one yet.
func (l *writeLoad) firstAckAfter(t time.Time) (attempt, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best attempt
	found := false
	for _, a := range l.attempts {
		if a.out == acked && !a.start.Before(t) && (!found || a.end.Before(best.end)) {
			best, found = a, true
		}
	}
	return best, found
}

// allWritersPast reports whether every writer finished a request it sent
// after t, so nothing sent before t is still in flight.
func (l *writeLoad) allWritersPast(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	done := make([]bool, l.writers)
	for _, a := range l.attempts {
		if a.start.After(t) {
			done[a.writer] = true
		}
	}
	if i := slices.Index(done, false); i >= 0 {
		return fmt.Errorf("writer %d has not finished a request sent after %v", i, t.Format("15:04:05.000"))
	}
	return nil
}

// failoverStats is what clients saw from a kill on.
type failoverStats struct {
	// ToFirstWrite: from the kill to the acknowledgement of the first
	// write sent after it.
	ToFirstWrite time.Duration
	// Longest is the longest single request among those in flight at the
	// kill or sent after it; LongestAttempt is that request.
	Longest        time.Duration
	LongestAttempt attempt
	// InFlight is the number of requests in flight when the kill came.
	InFlight int
	// Counts of the requests that ended after the kill, by outcome.
	ByOutcome map[outcome]int
}

func (s failoverStats) String() string {
	a := s.LongestAttempt
	return fmt.Sprintf("first acknowledged write %v after the kill; longest request %v (server %d, %v: %v); %d in flight at the kill; after it: %v",
		s.ToFirstWrite.Round(time.Millisecond), s.Longest.Round(time.Millisecond), a.server, a.out, a.err, s.InFlight, s.ByOutcome)
}

// statsSince computes the failover figures for a kill at kill.
func (l *writeLoad) statsSince(kill time.Time) failoverStats {
	first, _ := l.firstAckAfter(kill)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := failoverStats{ToFirstWrite: first.end.Sub(kill), ByOutcome: map[outcome]int{}}
	for _, a := range l.attempts {
		if a.end.Before(kill) {
			continue
		}
		if a.start.Before(kill) {
			s.InFlight++
		}
		s.ByOutcome[a.out]++
		if d := a.took(); d > s.Longest {
			s.Longest, s.LongestAttempt = d, a
		}
	}
	return s
}

// failures returns the attempts that ended in an error no client could
// retry.
func (l *writeLoad) failures() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attempt
	for _, a := range l.attempts {
		if a.out == failed {
			out = append(out, a)
		}
	}
	return out
}

var digits = regexp.MustCompile(`[0-9]+`)

// summary counts keys by final outcome and attempts by error text.
func (l *writeLoad) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := map[outcome]int{}
	for _, o := range l.final {
		keys[o]++
	}
	errs := map[string]int{}
	for _, a := range l.attempts {
		if a.err != nil {
			// Group by the kind of error, not the port or key it names.
			msg := digits.ReplaceAllString(a.err.Error(), "N")
			errs[fmt.Sprintf("%v: %s", a.out, msg)]++
		}
	}
	var lines []string
	for msg, n := range errs {
		lines = append(lines, fmt.Sprintf("  %5d x %s", n, msg))
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d attempts, keys: %v\n%s", len(l.attempts), keys, strings.Join(lines, "\n"))
}

// check compares what a server holds under the load's prefix with what the
// writers were told: every acknowledged key is there with its value, no
// key a server said it did not apply is there, a "maybe" key is either
// there with its value or absent, and nothing else is there.
func (l *writeLoad) check(got map[string]string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for key, o := range l.final {
		v, ok := got[key]
		switch {
		case o == acked && !ok:
			add("acknowledged %s is missing", key)
		case o == notApplied && ok:
			add("%s is present though every attempt was refused as not applied", key)
		case ok && v != valueFor(key):
			add("%s=%q, want %q", key, v, valueFor(key))
		}
	}
	for key := range got {
		if _, ok := l.final[key]; !ok {
			add("%s is present but was never written", key)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d keys held; %s", len(got), strings.Join(problems, "; "))
	}
	return nil
}

// ackedKeys returns the acknowledged keys with their values.
func (l *writeLoad) ackedKeys() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for key, o := range l.final {
		if o == acked {
			out[key] = valueFor(key)
		}
	}
	return out
}
