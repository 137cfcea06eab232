package linearize

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Value is what a key holds: absent, or present with Data.
type Value struct {
	Present bool
	Data    string
}

// Absent is the value of a key that does not exist.
var Absent = Value{}

// Present returns a key's value holding data.
func Present(data string) Value { return Value{Present: true, Data: data} }

func (v Value) String() string {
	if !v.Present {
		return "∅"
	}
	return fmt.Sprintf("%q", v.Data)
}

// Verb is what one step of an operation does.
type Verb uint8

const (
	// Read observes the key's value (Output.Reads gets one entry).
	Read Verb = iota
	// Write sets the key to Value (Value absent: delete it).
	Write
	// CAS sets the key to Value if it holds Expect now; otherwise the whole
	// operation fails and changes nothing.
	CAS
)

// Step is one step of an operation.
type Step struct {
	Verb   Verb
	Key    string
	Value  Value // Write, CAS: the new value
	Expect Value // CAS: the value the key must hold
}

func (s Step) String() string {
	switch s.Verb {
	case Read:
		return "r(" + s.Key + ")"
	case Write:
		if !s.Value.Present {
			return "del(" + s.Key + ")"
		}
		return fmt.Sprintf("w(%s,%v)", s.Key, s.Value)
	default:
		return fmt.Sprintf("cas(%s,%v→%v)", s.Key, s.Expect, s.Value)
	}
}

// Input is one operation as a client sent it: its steps apply atomically,
// all or none (a kv.get is one Read, a kv.put one Write, a put with cas one
// CAS, a kv.txn several steps on keys of one shard).
type Input struct {
	Steps []Step
}

// Get, Put, Delete and CompareAndSet build single-step inputs.
func Get(key string) Input { return Input{Steps: []Step{{Verb: Read, Key: key}}} }
func Put(key, data string) Input {
	return Input{Steps: []Step{{Verb: Write, Key: key, Value: Present(data)}}}
}
func Delete(key string) Input { return Input{Steps: []Step{{Verb: Write, Key: key}}} }
func CompareAndSet(key string, expect Value, data string) Input {
	return Input{Steps: []Step{{Verb: CAS, Key: key, Expect: expect, Value: Present(data)}}}
}

// ReadOnly reports whether the operation changes nothing whatever happens.
func (in Input) ReadOnly() bool {
	for _, s := range in.Steps {
		if s.Verb != Read {
			return false
		}
	}
	return true
}

// Keys lists the keys the operation touches, each once, in order.
func (in Input) Keys() []string {
	var keys []string
	for _, s := range in.Steps {
		if !slices.Contains(keys, s.Key) {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

func (in Input) String() string {
	parts := make([]string, len(in.Steps))
	for i, s := range in.Steps {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Outcome is what the client learnt of an operation.
type Outcome uint8

const (
	// Done: the server answered; OK and Reads say what happened.
	Done Outcome = iota
	// NotApplied: the answer says the operation did not take effect (no
	// leader, connection refused before the request went out).
	NotApplied
	// Unknown: no answer, or one that does not say (a timeout, a
	// connection lost after the request went out). The operation may have
	// taken effect at any time after its call, even after the test ended.
	Unknown
)

// Output is the result of an operation.
type Output struct {
	Outcome Outcome
	// OK is false when a CAS step did not hold and nothing was applied.
	OK bool
	// Reads holds, when OK, the value each Read step saw, in order.
	Reads []Value
}

func (out Output) String() string {
	switch out.Outcome {
	case NotApplied:
		return "not applied"
	case Unknown:
		return "unknown"
	}
	if !out.OK {
		return "failed"
	}
	if len(out.Reads) == 0 {
		return "ok"
	}
	parts := make([]string, len(out.Reads))
	for i, v := range out.Reads {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

// state is the model's state of one partition: its keys' values, encoded
// as a string so that states compare with == and hash cheaply. Entries are
// "key\x1fP<data>" or "key\x1fA", sorted by key, joined by \x1e. Keys and
// data must not hold \x1e or \x1f.
type state string

func (s state) get(key string) Value {
	for e := range strings.SplitSeq(string(s), "\x1e") {
		k, v, ok := strings.Cut(e, "\x1f")
		if ok && k == key {
			if v == "A" {
				return Absent
			}
			return Present(v[1:])
		}
	}
	return Absent
}

func (s state) with(key string, v Value) state {
	var entries []string
	if s != "" {
		entries = strings.Split(string(s), "\x1e")
	}
	enc := key + "\x1fA"
	if v.Present {
		enc = key + "\x1fP" + v.Data
	}
	for i, e := range entries {
		if k, _, _ := strings.Cut(e, "\x1f"); k == key {
			entries[i] = enc
			return state(strings.Join(entries, "\x1e"))
		}
	}
	entries = append(entries, enc)
	slices.Sort(entries)
	return state(strings.Join(entries, "\x1e"))
}

func (s state) String() string {
	if s == "" {
		return "{}"
	}
	var parts []string
	for e := range strings.SplitSeq(string(s), "\x1e") {
		k, _, _ := strings.Cut(e, "\x1f")
		parts = append(parts, k+"="+s.get(k).String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// apply runs in's steps against s as the server does: every CAS is checked
// against the state left by the steps before it; if one fails, nothing is
// applied. It returns the new state, whether the operation applied, and
// the values the reads saw.
func apply(s state, in Input) (state, bool, []Value) {
	next := s
	var reads []Value
	for _, st := range in.Steps {
		cur := next.get(st.Key)
		switch st.Verb {
		case Read:
			reads = append(reads, cur)
		case Write:
			next = next.with(st.Key, st.Value)
		case CAS:
			if cur != st.Expect {
				return s, false, nil
			}
			next = next.with(st.Key, st.Value)
		}
	}
	return next, true, reads
}

// step is the model's step function.
func step(st, in, out any) (bool, any) {
	s, input, output := st.(state), in.(Input), out.(Output)
	switch output.Outcome {
	case NotApplied:
		return true, s
	case Unknown:
		next, _, _ := apply(s, input)
		return true, next
	}
	next, ok, reads := apply(s, input)
	if ok != output.OK || (ok && !slices.Equal(reads, output.Reads)) {
		return false, s
	}
	return true, next
}

// partition splits a history into groups of operations that share no key
// (a transaction joins its keys into one group): a history is linearizable
// if and only if every group is, since linearizability is local.
func partition(history []porcupine.Operation) [][]porcupine.Operation {
	parent := map[string]string{}
	var find func(string) string
	find = func(k string) string {
		p, ok := parent[k]
		if !ok {
			parent[k] = k
			return k
		}
		if p == k {
			return k
		}
		r := find(p)
		parent[k] = r
		return r
	}
	for _, op := range history {
		keys := op.Input.(Input).Keys()
		for _, k := range keys[min(1, len(keys)):] {
			a, b := find(keys[0]), find(k)
			if a != b {
				parent[a] = b
			}
		}
	}
	group := map[string]int{}
	var out [][]porcupine.Operation
	for _, op := range history {
		keys := op.Input.(Input).Keys()
		if len(keys) == 0 {
			continue
		}
		root := find(keys[0])
		i, ok := group[root]
		if !ok {
			i = len(out)
			group[root] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], op)
	}
	return out
}

// Model is the sequential specification of Meridian's KV store as the
// workload uses it: keys hold values or are absent; reads, writes, deletes,
// CAS on values and multi-key transactions (all steps or none). It is
// partitioned by key (transactions join their keys).
//
// CAS compares values, while the server compares modify indexes: the two
// agree when every write of the history writes a value never written
// before, which the workload guarantees (and Indexes checks that each
// value maps to one modify index).
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: partition,
		Init:      func() any { return state("") },
		Step:      step,
		Equal:     func(a, b any) bool { return a.(state) == b.(state) },
		Hash: func(s any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(s.(state)))
			return h.Sum64()
		},
		DescribeOperation: func(in, out any) string {
			return fmt.Sprintf("%v → %v", in.(Input), out.(Output))
		},
		DescribeState: func(s any) string { return s.(state).String() },
		DescribeOperationMetadata: func(m any) string {
			if m == nil {
				return ""
			}
			return fmt.Sprint(m)
		},
	}
}
