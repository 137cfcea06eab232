package gossip

import (
	"context"
	"sync"
)

// eventQueue hands events from memberlist's goroutines, which must not
// block, to the one goroutine that calls Config.Events. It is unbounded:
// memberlist produces at most a few events per member and state change.
type eventQueue struct {
	fn     func(Event)
	mu     sync.Mutex
	queue  []Event
	signal chan struct{} // capacity 1: "the queue is not empty"
}

func newEventQueue(fn func(Event)) *eventQueue {
	return &eventQueue{fn: fn, signal: make(chan struct{}, 1)}
}

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// run delivers events in order until ctx is done; what is left is dropped.
func (q *eventQueue) run(ctx context.Context) {
	var batch []Event
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		q.mu.Lock()
		batch, q.queue = q.queue, batch[:0]
		q.mu.Unlock()
		for i, e := range batch {
			if ctx.Err() != nil {
				return
			}
			q.fn(e)
			batch[i] = Event{}
		}
	}
}
