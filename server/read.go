package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"meridian/rpc"
	"meridian/server/shard"
)

// query runs over one view per shard and returns the index of what it saw
// and the channels that close when that may change.
type query func(views []any) (index uint64, watches []<-chan struct{})

// read runs q over the given shards with the call's consistency, and, when
// opts.Index is set, blocks until q's index passes it or the wait ends.
// Waiting holds only the caller's goroutine and the watch channels the
// state machine closes on a change under the key or prefix: nothing polls.
func (s *Server) read(ctx context.Context, opts rpc.ReadOptions, ids []shard.ID, q query) (rpc.ReadMeta, error) {
	if err := s.checkDC(opts.DC); err != nil {
		return rpc.ReadMeta{}, err
	}
	stale := false
	switch opts.Consistency {
	case "", rpc.ConsistencyDefault:
	case rpc.ConsistencyStale:
		stale = true
	default:
		return rpc.ReadMeta{}, rpc.InvalidParams("field \"consistency\": %q is not one of \"default\", \"stale\"", opts.Consistency)
	}
	var waitDone <-chan time.Time
	if opts.Index > 0 {
		wait := opts.Wait.Std()
		if wait == 0 {
			wait = s.cfg.DefaultWait
		}
		if wait > s.cfg.MaxWait {
			wait = s.cfg.MaxWait
		}
		// Jitter spreads the return of many watchers that started together.
		wait += time.Duration(rand.Int64N(int64(wait)/16 + 1))
		t := time.NewTimer(wait)
		defer t.Stop()
		waitDone = t.C
	}
	views := make([]any, len(ids))
	for {
		if err := s.views(ctx, opts.Timeout, stale, ids, views); err != nil {
			return rpc.ReadMeta{}, err
		}
		index, watches := q(views)
		if opts.Index == 0 || index > opts.Index {
			return s.meta(index, stale, ids), nil
		}
		if !s.waitAny(ctx, waitDone, watches) {
			// The wait ran out (or the caller left): answer with what is
			// there now, as Consul does; a return promises no change.
			return s.meta(index, stale, ids), nil
		}
	}
}

func (s *Server) views(ctx context.Context, timeout rpc.Duration, stale bool, ids []shard.ID, out []any) error {
	if stale {
		for i, id := range ids {
			v, err := s.raft.StaleRead(id)
			if err != nil {
				return err
			}
			out[i] = v
		}
		return nil
	}
	cctx, cancel, err := s.callCtx(ctx, timeout)
	if err != nil {
		return err
	}
	defer cancel()
	if len(ids) == 1 {
		v, err := s.raft.Read(cctx, ids[0])
		out[0] = v
		return err
	}
	return fanOut(len(ids), func(i int) (err error) {
		out[i], err = s.raft.Read(cctx, ids[i])
		return err
	})
}

// fanOut runs fn for 0..n-1 concurrently and returns the first error.
func fanOut(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitAny blocks until a watch fires (true) or the wait, the call or the
// server ends (false).
func (s *Server) waitAny(ctx context.Context, waitDone <-chan time.Time, watches []<-chan struct{}) bool {
	if len(watches) == 1 {
		select {
		case <-watches[0]:
			return true
		case <-waitDone:
		case <-ctx.Done():
		case <-s.stop:
		}
		return false
	}
	cases := make([]reflect.SelectCase, 0, len(watches)+3)
	for _, w := range []any{waitDone, ctx.Done(), s.stop} {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w)})
	}
	for _, w := range watches {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w)})
	}
	chosen, _, _ := reflect.Select(cases)
	return chosen >= 3
}

func (s *Server) meta(index uint64, stale bool, ids []shard.ID) rpc.ReadMeta {
	m := rpc.ReadMeta{Index: index}
	if !stale {
		return m
	}
	known := true
	var last time.Duration
	for _, id := range ids {
		leader, contact := s.raft.Contact(id)
		if leader == 0 {
			known = false
		}
		if contact < 0 {
			last = -1
		} else if last >= 0 && contact > last {
			last = contact
		}
	}
	ms := last.Milliseconds()
	if last < 0 {
		ms = -1
	}
	m.KnownLeader, m.LastContactMS = &known, &ms
	return m
}
