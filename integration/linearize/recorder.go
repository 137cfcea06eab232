package linearize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder records a history of concurrent operations: each operation's
// invocation and completion, on one monotonic clock. It is safe for
// concurrent use.
type Recorder struct {
	start time.Time

	mu      sync.Mutex
	ops     []porcupine.Operation
	notes   []porcupine.Annotation
	clients int
	counts  [3]int // by Outcome
	dropped int    // reads without an answer: no effect, not recorded
}

// NewRecorder returns an empty Recorder whose clock starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// now is the recorder's clock: nanoseconds since it started (monotonic).
func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

// NewClient returns a fresh client id. A client has at most one operation
// in flight; after an operation with an unknown outcome (which stays in
// flight forever, as far as the checker knows) the worker must take a new
// id.
func (r *Recorder) NewClient() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.clients
	r.clients++
	return id
}

// Call is an operation in flight.
type Call struct {
	r      *Recorder
	client int
	in     Input
	at     int64
	meta   string
}

// Begin records the invocation of in by client; call End on the result
// once the answer (or the lack of one) is known. meta is shown in the
// visualization (e.g. the server the call went to).
func (r *Recorder) Begin(client int, in Input, meta string) *Call {
	return &Call{r: r, client: client, in: in, at: r.now(), meta: meta}
}

// End records the completion of the call. An Unknown outcome is recorded
// as an operation that returns at infinity: it may take effect at any time
// after its invocation. A read-only operation with no answer is left out:
// it had no effect and returned nothing.
func (c *Call) End(out Output) {
	ret := c.r.now()
	if out.Outcome == Unknown {
		ret = math.MaxInt64
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.counts[out.Outcome]++
	if out.Outcome != Done && c.in.ReadOnly() {
		c.r.dropped++
		return
	}
	c.r.ops = append(c.r.ops, porcupine.Operation{
		ClientId: c.client,
		Input:    c.in,
		Call:     c.at,
		Output:   out,
		Return:   ret,
		Metadata: c.meta,
	})
}

// Note records an event of the test (a fault injected, healed) for the
// visualization, from began to now.
func (r *Recorder) Note(tag, what string, began time.Time) {
	start := int64(began.Sub(r.start))
	end := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, porcupine.Annotation{
		ClientId:        -1,
		Tag:             tag,
		Start:           start,
		End:             end,
		Description:     what,
		BackgroundColor: "#fdd",
	})
}

// Stats counts what was recorded.
type Stats struct {
	Ops        int // operations in the history
	Done       int // answered
	NotApplied int // answered with "not applied"
	Unknown    int // outcome unknown (writes kept, reads left out)
	Dropped    int // reads left out
	Clients    int // client ids used
	Notes      int
}

func (s Stats) String() string {
	return fmt.Sprintf("%d operations in the history (%d answered, %d not applied, %d with unknown outcome; %d unanswered reads left out) over %d client ids",
		s.Ops, s.Done, s.NotApplied, s.Unknown, s.Dropped, s.Clients)
}

// Stats returns the counts so far.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{
		Ops: len(r.ops), Done: r.counts[Done], NotApplied: r.counts[NotApplied],
		Unknown: r.counts[Unknown], Dropped: r.dropped, Clients: r.clients, Notes: len(r.notes),
	}
}

// Operations returns a copy of the history recorded so far.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}

// Result is the verdict on a history.
type Result struct {
	Verdict porcupine.CheckResult // Ok, Illegal, or Unknown (timed out)
	Took    time.Duration
	info    porcupine.LinearizationInfo
	notes   []porcupine.Annotation
}

// Check decides whether the history recorded so far is linearizable under
// Model, giving up after timeout (0: no limit) with verdict Unknown.
func (r *Recorder) Check(timeout time.Duration) Result {
	ops := r.Operations()
	r.mu.Lock()
	notes := append([]porcupine.Annotation(nil), r.notes...)
	r.mu.Unlock()
	return check(ops, notes, timeout)
}

func check(ops []porcupine.Operation, notes []porcupine.Annotation, timeout time.Duration) Result {
	began := time.Now()
	verdict, info := porcupine.CheckOperationsVerbose(Model(), ops, timeout)
	return Result{Verdict: verdict, Took: time.Since(began), info: info, notes: notes}
}

// CheckOperations checks a history built by hand (tests of the model).
func CheckOperations(ops []porcupine.Operation, timeout time.Duration) Result {
	return check(ops, nil, timeout)
}

// Visualize writes porcupine's HTML visualization of the checked history
// (with the recorder's notes as annotations) to path.
func (res Result) Visualize(path string) error {
	info := res.info
	if len(res.notes) > 0 {
		info.AddAnnotations(res.notes)
	}
	return porcupine.VisualizePath(Model(), info, path)
}

// SaveJSON writes the history (one object per operation) to path, for
// analysis outside the test.
func (r *Recorder) SaveJSON(path string) error {
	type step struct {
		Verb   string `json:"verb"`
		Key    string `json:"key"`
		Value  *Value `json:"value,omitempty"`
		Expect *Value `json:"expect,omitempty"`
	}
	type op struct {
		Client int     `json:"client"`
		Call   int64   `json:"call_ns"`
		Return *int64  `json:"return_ns"` // null: unknown outcome
		Steps  []step  `json:"steps"`
		Result string  `json:"result"`
		Reads  []Value `json:"reads,omitempty"`
		Meta   string  `json:"meta,omitempty"`
	}
	var out []op
	for _, o := range r.Operations() {
		in, res := o.Input.(Input), o.Output.(Output)
		j := op{Client: o.ClientId, Call: o.Call, Result: res.String(), Reads: res.Reads}
		if o.Return != math.MaxInt64 {
			j.Return = &o.Return
		}
		j.Meta, _ = o.Metadata.(string)
		for _, s := range in.Steps {
			js := step{Verb: [...]string{"read", "write", "cas"}[s.Verb], Key: s.Key}
			if s.Verb != Read {
				v := s.Value
				js.Value = &v
			}
			if s.Verb == CAS {
				e := s.Expect
				js.Expect = &e
			}
			j.Steps = append(j.Steps, js)
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Indexes checks the assumption Model's CAS rests on: every value written
// to a key is seen with one modify index only (a put applied twice, or an
// index reused, would break it). It is safe for concurrent use.
type Indexes struct {
	mu   sync.Mutex
	seen map[[2]string]uint64
	errs []error
}

// Observe records that key held data with modify index idx.
func (x *Indexes) Observe(key, data string, idx uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.seen == nil {
		x.seen = map[[2]string]uint64{}
	}
	k := [2]string{key, data}
	if prev, ok := x.seen[k]; ok && prev != idx {
		if len(x.errs) < 20 {
			x.errs = append(x.errs, fmt.Errorf("%s=%q seen with modify index %d and %d", key, data, prev, idx))
		}
		return
	}
	x.seen[k] = idx
}

// Err returns the conflicts seen, nil if none.
func (x *Indexes) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return errors.Join(x.errs...)
}

// FileName returns a path in the system's temporary directory (kept after
// the test, unlike t.TempDir) for an artifact of test name run with seed.
func FileName(test string, seed int64, ext string) string {
	clean := []byte(test)
	for i, c := range clean {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			clean[i] = '_'
		}
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("meridian-%s-seed%d.%s", clean, seed, ext))
}
