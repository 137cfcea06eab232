package checks

import (
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"meridian/rpc"
)

// The notifier calls Notify one call at a time, in order per check,
// coalescing changes that pile up behind a slow Notify.
func TestNotifierQueue(t *testing.T) {
	release := make(chan struct{})
	var got []Update
	var inCall, overlap atomic.Int32
	n := newNotifier(func(u Update) {
		if inCall.Add(1) > 1 {
			overlap.Store(1)
		}
		if u.ID == "a" && u.Status == rpc.HealthPassing {
			<-release // a slow first call
		}
		got = append(got, u)
		inCall.Add(-1)
	})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); n.run(stop) }()
	defer func() { close(stop); <-done }()

	for _, id := range []string{"a", "b", "c", "d"} {
		n.track(id, rpc.HealthCritical)
	}
	n.push(Update{ID: "a", Status: rpc.HealthPassing, Output: "1"})
	waitFor(t, "the first call", func() bool { return inCall.Load() == 1 })

	// While Notify is busy:
	n.push(Update{ID: "b", Status: rpc.HealthPassing, Output: "b1"})
	n.push(Update{ID: "c", Status: rpc.HealthWarning, Output: "c1"})
	n.push(Update{ID: "b", Status: rpc.HealthWarning, Output: "b2"})  // replaces b1, keeps b's place
	n.push(Update{ID: "a", Status: rpc.HealthCritical, Output: "2"})  // after a's first call
	n.push(Update{ID: "d", Status: rpc.HealthPassing, Output: "d1"})  // then back to critical:
	n.push(Update{ID: "d", Status: rpc.HealthCritical, Output: "d2"}) // nothing to tell
	n.push(Update{ID: "c", Status: rpc.HealthPassing, Output: "c2"})
	n.forget("c") // removed: its change is dropped
	close(release)
	waitFor(t, "the queue to drain", n.idle)

	want := []Update{
		{ID: "a", Status: rpc.HealthPassing, Output: "1"},
		{ID: "b", Status: rpc.HealthWarning, Output: "b2"},
		{ID: "a", Status: rpc.HealthCritical, Output: "2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if overlap.Load() != 0 {
		t.Fatal("Notify calls overlapped")
	}
}

// Notify may call back into the runner (not Close).
func TestNotifyReentrant(t *testing.T) {
	srv := newSwitchServer(t, 200)
	var r *Runner
	removed := make(chan bool, 1)
	r = newRunner(t, Config{Notify: func(u Update) {
		if _, ok := r.Get(u.ID); ok {
			_ = r.States()
			removed <- r.Remove(u.ID)
		}
	}})
	mustAdd(t, r, httpCheck("web", srv.URL, 10*time.Millisecond))
	select {
	case ok := <-removed:
		if !ok {
			t.Fatal("Remove from Notify: false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	if _, ok := r.Get("web"); ok {
		t.Fatal("still there")
	}
}
