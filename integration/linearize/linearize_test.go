package linearize

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// op builds an operation of client c over [call, ret] (ret < 0: unknown).
func op(c int, call, ret int64, in Input, out Output) porcupine.Operation {
	if ret < 0 {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret}
}

func ok(reads ...Value) Output { return Output{Outcome: Done, OK: true, Reads: reads} }

var (
	failed  = Output{Outcome: Done}
	unknown = Output{Outcome: Unknown}
	refused = Output{Outcome: NotApplied}
)

func txn(steps ...Step) Input { return Input{Steps: steps} }

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"empty", nil, porcupine.Ok},
		{"read your write", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(1, 20, 30, Get("k"), ok(Present("a"))),
		}, porcupine.Ok},
		{"stale read after an acknowledged write", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(0, 20, 30, Put("k", "b"), ok()),
			op(1, 40, 50, Get("k"), ok(Present("a"))),
		}, porcupine.Illegal},
		{"concurrent read may see either", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(0, 20, 30, Put("k", "b"), ok()),
			op(1, 25, 50, Get("k"), ok(Present("a"))),
		}, porcupine.Ok},
		{"read of a value never written", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(1, 20, 30, Get("k"), ok(Present("x"))),
		}, porcupine.Illegal},
		{"unknown write may land late", []porcupine.Operation{
			op(0, 0, -1, Put("k", "a"), unknown),
			op(1, 20, 30, Get("k"), ok(Absent)),
			op(1, 40, 50, Get("k"), ok(Present("a"))),
		}, porcupine.Ok},
		{"unknown write lands once", []porcupine.Operation{
			op(0, 0, -1, Put("k", "a"), unknown),
			op(1, 20, 30, Get("k"), ok(Present("a"))),
			op(2, 40, 50, Put("k", "b"), ok()),
			op(1, 60, 70, Get("k"), ok(Present("a"))),
		}, porcupine.Illegal},
		{"a write not applied is never seen", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), refused),
			op(1, 20, 30, Get("k"), ok(Present("a"))),
		}, porcupine.Illegal},
		{"cas succeeds on the expected value", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(1, 20, 30, CompareAndSet("k", Present("a"), "b"), ok()),
			op(0, 40, 50, Get("k"), ok(Present("b"))),
		}, porcupine.Ok},
		{"cas that should have failed succeeded", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(0, 20, 30, Put("k", "c"), ok()),
			op(1, 40, 50, CompareAndSet("k", Present("a"), "b"), ok()),
		}, porcupine.Illegal},
		{"cas that should have succeeded failed", []porcupine.Operation{
			op(0, 0, 10, Put("k", "a"), ok()),
			op(1, 40, 50, CompareAndSet("k", Present("a"), "b"), failed),
		}, porcupine.Illegal},
		{"create-only cas on an absent key", []porcupine.Operation{
			op(0, 0, 10, CompareAndSet("k", Absent, "a"), ok()),
			op(1, 20, 30, CompareAndSet("k", Absent, "b"), failed),
			op(1, 40, 50, Delete("k"), ok()),
			op(0, 60, 70, Get("k"), ok(Absent)),
		}, porcupine.Ok},
		{"txn writes atomically", []porcupine.Operation{
			op(0, 0, 10, txn(Step{Verb: Write, Key: "t/a", Value: Present("1")}, Step{Verb: Write, Key: "t/b", Value: Present("1")}), ok()),
			op(0, 20, 100, txn(Step{Verb: Write, Key: "t/a", Value: Present("2")}, Step{Verb: Write, Key: "t/b", Value: Present("2")}), ok()),
			op(1, 30, 40, txn(Step{Verb: Read, Key: "t/a"}, Step{Verb: Read, Key: "t/b"}), ok(Present("2"), Present("2"))),
			op(1, 50, 60, Get("t/a"), ok(Present("2"))),
		}, porcupine.Ok},
		{"torn txn read", []porcupine.Operation{
			op(0, 0, 10, txn(Step{Verb: Write, Key: "t/a", Value: Present("1")}, Step{Verb: Write, Key: "t/b", Value: Present("1")}), ok()),
			op(0, 20, 100, txn(Step{Verb: Write, Key: "t/a", Value: Present("2")}, Step{Verb: Write, Key: "t/b", Value: Present("2")}), ok()),
			op(1, 30, 40, txn(Step{Verb: Read, Key: "t/a"}, Step{Verb: Read, Key: "t/b"}), ok(Present("2"), Present("1"))),
		}, porcupine.Illegal},
		{"failed txn applies nothing", []porcupine.Operation{
			op(0, 0, 10, Put("t/a", "1"), ok()),
			op(0, 20, 30, txn(Step{Verb: Write, Key: "t/b", Value: Present("x")}, Step{Verb: CAS, Key: "t/a", Expect: Present("0"), Value: Present("2")}), failed),
			op(1, 40, 50, Get("t/b"), ok(Present("x"))),
		}, porcupine.Illegal},
		{"single-key ops on txn keys join the txn's partition", []porcupine.Operation{
			op(0, 0, 10, Put("t/a", "1"), ok()),
			op(1, 20, 30, txn(Step{Verb: Write, Key: "t/a", Value: Present("2")}, Step{Verb: Write, Key: "t/b", Value: Present("2")}), ok()),
			op(0, 40, 50, Get("t/b"), ok(Present("2"))),
			op(0, 60, 70, Get("t/a"), ok(Present("1"))),
		}, porcupine.Illegal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := CheckOperations(tc.ops, 10*time.Second)
			if res.Verdict != tc.want {
				t.Fatalf("verdict %v, want %v", res.Verdict, tc.want)
			}
		})
	}
}

// TestVisualize writes the visualization of an illegal history, with a
// note, and the history as JSON.
func TestVisualize(t *testing.T) {
	r := NewRecorder()
	c0, c1 := r.NewClient(), r.NewClient()
	began := time.Now()
	r.Begin(c0, Put("k", "a"), "s1").End(ok())
	r.Begin(c0, Put("k", "b"), "s1").End(ok())
	r.Begin(c1, Get("k"), "s2").End(ok(Present("a")))
	r.Begin(c1, Get("k"), "s3").End(unknown) // left out: a read
	r.Begin(c0, Put("k", "c"), "s3").End(unknown)
	r.Note("nemesis", "kill s3", began)
	if s := r.Stats(); s.Ops != 4 || s.Unknown != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
	res := r.Check(10 * time.Second)
	if res.Verdict != porcupine.Illegal {
		t.Fatalf("verdict %v, want Illegal", res.Verdict)
	}
	dir := t.TempDir()
	html := filepath.Join(dir, "h.html")
	if err := res.Visualize(html); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(b), "kill s3") {
		t.Fatalf("visualization lacks the note (err %v)", err)
	}
	if err := r.SaveJSON(filepath.Join(dir, "h.json")); err != nil {
		t.Fatal(err)
	}
}

func TestIndexes(t *testing.T) {
	var x Indexes
	x.Observe("k", "a", 5)
	x.Observe("k", "a", 5)
	x.Observe("j", "a", 6)
	if err := x.Err(); err != nil {
		t.Fatal(err)
	}
	x.Observe("k", "a", 7)
	if x.Err() == nil {
		t.Fatal("a value seen with two modify indexes was not reported")
	}
}

func TestFileName(t *testing.T) {
	got := FileName("TestLinearizability/seed 3", 3, "html")
	if filepath.Dir(got) != os.TempDir() || !strings.HasSuffix(got, "meridian-TestLinearizability_seed_3-seed3.html") {
		t.Fatalf("FileName = %q", got)
	}
}
