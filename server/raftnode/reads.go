package raftnode

import (
	"context"
	"fmt"
	"sync"
	"time"

	"meridian/rpc"
)

// readRounds coalesces the linearizable reads of one shard: while a
// ReadIndex round is out, the reads that arrive wait for the next round,
// which starts when it ends and serves them all with one ReadIndex and one
// view. A read joins only a round that starts after the read arrived, so
// the round's read index covers every write acknowledged before the read
// began: each read stays linearizable. Under load this turns one ReadIndex
// (a heartbeat round to the followers and back, on every replica) per
// read, or per dragonboat step, into one per round trip; idle, a read
// starts its round at once.
type readRounds struct {
	mu       sync.Mutex
	inflight bool
	next     *readRound // collecting the reads that wait for the next round
}

// readRound is one ReadIndex shared by its reads; v and err are set
// before done closes.
type readRound struct {
	done chan struct{}
	v    any
	err  error
}

// roundTimeout bounds a round, which serves reads of several callers and
// so runs under none of their contexts; each caller stops waiting at its
// own deadline.
const roundTimeout = 10 * time.Second

// read returns a view from the round it joins; do performs one round.
func (rr *readRounds) read(ctx context.Context, what fmt.Stringer, do func(context.Context) (any, error)) (any, error) {
	rr.mu.Lock()
	var round *readRound
	if !rr.inflight {
		rr.inflight = true
		round = &readRound{done: make(chan struct{})}
		rr.mu.Unlock()
		go rr.run(round, do)
	} else {
		if rr.next == nil {
			rr.next = &readRound{done: make(chan struct{})}
		}
		round = rr.next
		rr.mu.Unlock()
	}
	select {
	case <-round.done:
		return round.v, round.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%v: %w", what, rpc.ErrTimeout)
	}
}

// run performs round, then the rounds that gathered meanwhile, one after
// another, until none waits.
func (rr *readRounds) run(round *readRound, do func(context.Context) (any, error)) {
	for round != nil {
		ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
		round.v, round.err = do(ctx)
		cancel()
		close(round.done)
		rr.mu.Lock()
		round, rr.next = rr.next, nil
		if round == nil {
			rr.inflight = false
		}
		rr.mu.Unlock()
	}
}
