package kv

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWatchKey(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		cmd       []byte
		wantClose bool
	}{
		{"put of the key", "a/x", putCmd("a/x", "new"), true},
		{"delete of the key", "a/x", delCmd("a/x"), true},
		{"delete-tree above the key", "a/x", treeCmd("a/"), true},
		{"txn writing the key", "a/x", txnCmd(set("a/x", "t")), true},
		{"creation of a missing key", "a/new", putCmd("a/new", "1"), true},
		{"another key in another subtree", "a/x", putCmd("b/z", "1"), false},
		{"a sibling key", "a/x", putCmd("a/y", "2"), false},
		{"a failed CAS on the key", "a/x", casCmd("a/x", "v", 99), false},
		{"a failed txn writing the key", "a/x", txnCmd(set("a/x", "t"), opIdx("check-index", "b/y", 99)), false},
		{"delete of a missing key", "a/x", delCmd("a/zz"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustOK(putCmd("a/x", "1"), putCmd("a/y", "1"), putCmd("b/y", "1"), putCmd("b/w", "1"))
			_, _, w := h.m.View().Get(tt.key)
			h.apply(tt.cmd)
			if closed(w) != tt.wantClose {
				t.Errorf("closed = %v, want %v", closed(w), tt.wantClose)
			}
		})
	}
}

func TestWatchPrefix(t *testing.T) {
	tests := []struct {
		name      string
		prefix    string
		cmd       []byte
		wantClose bool
	}{
		{"put under the prefix", "a/", putCmd("a/new", "1"), true},
		{"update under the prefix", "a/", putCmd("a/b/c", "2"), true},
		{"delete under the prefix", "a/", delCmd("a/b/c"), true},
		{"delete-tree of the prefix", "a/", treeCmd("a/"), true},
		{"delete-tree of a sub-prefix", "a/", treeCmd("a/b/"), true},
		{"delete-tree of everything", "a/", treeCmd(""), true},
		{"put elsewhere", "a/", putCmd("b/new", "1"), false},
		{"update elsewhere", "a/", putCmd("b/y", "2"), false},
		{"delete elsewhere", "a/", delCmd("b/y"), false},
		{"empty prefix sees all", "", putCmd("b/new", "1"), true},
		{"missing prefix: creation under it", "c/", putCmd("c/1", "1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustOK(putCmd("a/x", "1"), putCmd("a/b/c", "1"), putCmd("a/b/d", "1"),
				putCmd("b/y", "1"), putCmd("b/w", "1"), putCmd("b/v", "1"))
			_, _, _, w := h.m.View().List(tt.prefix, true, "/")
			h.apply(tt.cmd)
			if closed(w) != tt.wantClose {
				t.Errorf("closed = %v, want %v", closed(w), tt.wantClose)
			}
		})
	}
}

// What iradix does not promise: a write outside the prefix that reshapes
// the watched node wakes the watcher. Documented in the package doc; this
// test pins it so that a change in iradix is noticed.
func TestWatchSpuriousOnSplit(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putCmd("a/x", "1"))
	_, _, _, w := h.m.View().List("a/", false, "")
	h.mustOK(putCmd("ab", "1")) // splits the node "a/x" into "a" -> "/x", "b"
	if !closed(w) {
		t.Error("split did not wake the watcher (the doc says it does)")
	}
}

// Thousands of waiters on one prefix: each change under it wakes every
// waiter once; writes in another subtree wake none.
func TestWatchManyWaiters(t *testing.T) {
	const waiters, rounds = 2000, 5
	h := newHarness(t)
	h.mustOK(putCmd("a/0", "v"), putCmd("a/1", "v"), putCmd("b/0", "v"), putCmd("b/1", "v"))

	var (
		wakeups atomic.Int64
		ready   sync.WaitGroup // every waiter holds a channel of the round's View
		done    sync.WaitGroup
		start   = make(chan struct{})
		idx     []atomic.Uint64 // the index each waiter saw last
	)
	idx = make([]atomic.Uint64, waiters)
	subscribe := func() <-chan struct{} {
		_, _, _, w := h.m.View().List("a/", true, "")
		return w
	}
	ready.Add(waiters)
	for i := range waiters {
		done.Add(1)
		go func() {
			defer done.Done()
			<-start
			for r := 0; r < rounds; r++ {
				_, _, index, w := h.m.View().List("a/", true, "")
				idx[i].Store(index)
				ready.Done()
				<-w
				wakeups.Add(1)
			}
		}()
	}
	close(start)
	for r := 0; r < rounds; r++ {
		ready.Wait()
		if r < rounds-1 {
			ready.Add(waiters)
		}
		w := subscribe()
		_, _, now, _ := h.m.View().List("a/", true, "")
		for i := range idx {
			if got := idx[i].Load(); got != now {
				t.Fatalf("round %d: waiter %d subscribed at index %d, want %d", r, i, got, now)
			}
		}
		// Noise in the other subtree: nobody wakes.
		h.mustOK(putCmd("b/0", fmt.Sprint(r)), putCmd(fmt.Sprintf("b/n%d", r), "v"), delCmd("b/1"))
		if closed(w) {
			t.Fatalf("round %d: a write under b/ woke a watcher of a/", r)
		}
		if got := wakeups.Load(); got != int64(r*waiters) {
			t.Fatalf("round %d: %d wake-ups before the change, want %d", r, got, r*waiters)
		}
		h.mustOK(putCmd("a/1", fmt.Sprint(r)))
		if !closed(w) {
			t.Fatalf("round %d: a write under a/ did not close the channel", r)
		}
		want := int64((r + 1) * waiters)
		waitFor(t, fmt.Sprintf("round %d wake-ups", r), func() bool { return wakeups.Load() == want })
	}
	done.Wait()
	if got := wakeups.Load(); got != waiters*rounds {
		t.Errorf("%d wake-ups, want %d", got, waiters*rounds)
	}
}

// A woken waiter must find the change: Commit publishes the View before it
// closes channels.
func TestWatchSeesNewView(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putCmd("k", "0"))
	const n = 200
	subscribed := make(chan struct{})
	errs := make(chan error, n)
	go func() {
		defer close(errs)
		for range n {
			_, idx, w := h.m.View().Get("k")
			subscribed <- struct{}{}
			<-w
			if _, now, _ := h.m.View().Get("k"); now <= idx {
				errs <- fmt.Errorf("woken at index %d, View still at %d", idx, now)
			}
		}
	}()
	for i := range n {
		<-subscribed
		h.mustOK(putCmd("k", fmt.Sprint(i)))
	}
	for err := range errs {
		t.Error(err)
	}
}

// A batch bigger than iradix's tracking cache falls back to a full tree
// comparison: watchers are still woken, and only the changed ones.
func TestWatchLargeBatch(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putCmd("a/x", "1"), putCmd("a/y", "1"), putCmd("z/x", "1"), putCmd("z/y", "1"))
	_, _, wa := h.m.View().Get("a/x")
	_, _, _, wz := h.m.View().List("z/", false, "")
	var cmds [][]byte
	for i := range 20000 {
		cmds = append(cmds, putCmd(fmt.Sprintf("m/%05d", i), "v"))
	}
	cmds = append(cmds, putCmd("a/x", "2"))
	h.batch(cmds...)
	if !closed(wa) {
		t.Error("a/x watch not closed")
	}
	if closed(wz) {
		t.Error("z/ watch closed")
	}
}

// A delete-tree in the batch that also wrote under the prefix must still
// wake the watchers of every key it deletes and count them out (the
// iradix DeletePrefix bug this package works around).
func TestWatchDeleteTreeAfterWriteInBatch(t *testing.T) {
	h := newHarness(t)
	h.mustOK(putCmd("foo/a", "1"), putCmd("foo/b", "2"), putCmd("zip", "3"))
	_, _, wb := h.m.View().Get("foo/b")
	h.batch(putCmd("foo/c", "3"), treeCmd("foo/"))
	v := h.m.View()
	if !closed(wb) {
		t.Error("watch on foo/b not closed")
	}
	if v.Len() != 1 {
		t.Errorf("Len %d, want 1", v.Len())
	}
	// foo/c existed at index 4, even though no View showed it: batch
	// boundaries do not change the state.
	if v.tombs.Len() != 3 {
		t.Errorf("%d tombstones, want 3", v.tombs.Len())
	}
}
