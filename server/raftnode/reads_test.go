package raftnode

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/rpc"
	"meridian/server/shard"
)

// TestReadRoundsLinearizable: a read that arrives while a round is out
// is not served by that round (its index may predate writes acknowledged
// before the read), but by a later one.
func TestReadRoundsLinearizable(t *testing.T) {
	var rr readRounds
	var rounds atomic.Int64
	release := make(chan struct{})
	do := func(context.Context) (any, error) {
		n := rounds.Add(1)
		if n == 1 {
			<-release
		}
		return n, nil
	}
	ctx := context.Background()
	first := make(chan any, 1)
	go func() {
		v, _ := rr.read(ctx, shard.ID(2), do)
		first <- v
	}()
	waitUntil(t, func() bool { return rounds.Load() == 1 })

	// Three reads arrive while round 1 is out.
	var wg sync.WaitGroup
	got := make([]any, 3)
	for i := range got {
		wg.Go(func() { got[i], _ = rr.read(ctx, shard.ID(2), do) })
	}
	waitUntil(t, func() bool {
		rr.mu.Lock()
		defer rr.mu.Unlock()
		return rr.next != nil
	})
	close(release)
	if v := <-first; v != int64(1) {
		t.Fatalf("first read got round %v, want 1", v)
	}
	wg.Wait()
	for i, v := range got {
		if v == int64(1) {
			t.Errorf("read %d, which arrived during round 1, was served by it", i)
		}
	}
	// Idle again: the next read starts its own round at once.
	if v, err := rr.read(ctx, shard.ID(2), do); err != nil || v != rounds.Load() {
		t.Errorf("read when idle: %v, %v", v, err)
	}
}

// TestReadRoundsDeadline: a caller stops waiting at its own deadline,
// with the timeout error, while the round goes on for the others.
func TestReadRoundsDeadline(t *testing.T) {
	var rr readRounds
	release := make(chan struct{})
	do := func(context.Context) (any, error) { <-release; return "v", nil }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	other := make(chan any, 1)
	go func() { v, _ := rr.read(context.Background(), shard.ID(2), do); other <- v }()
	_, err := rr.read(ctx, shard.ID(2), do)
	if !errors.Is(err, rpc.ErrTimeout) {
		t.Fatalf("err %v, want a timeout", err)
	}
	close(release)
	if v := <-other; v != "v" {
		t.Fatalf("the other read got %v", v)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
