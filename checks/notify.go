package checks

import "sync"

// notifier delivers status changes to Config.Notify from one goroutine, so
// calls never overlap and a slow Notify never holds up a probe. Changes
// wait in a queue with at most one entry per check: a check that changes
// again before its turn has the entry replaced by its latest change, and
// one that changes back to the status last delivered is skipped, so Notify
// sees each check's changes in order with no repeats (passing, then
// critical; never passing twice in a row).
type notifier struct {
	fn   func(Update)
	wake chan struct{} // buffered(1): the queue is not empty

	mu      sync.Mutex
	pending map[string]Update // by check ID
	order   []string          // check IDs, oldest first; may hold stale IDs
	sent    map[string]string // per check, the status Notify last saw (or the initial one)
	busy    bool              // a call is in progress
}

func newNotifier(fn func(Update)) *notifier {
	return &notifier{
		fn:      fn,
		wake:    make(chan struct{}, 1),
		pending: map[string]Update{},
		sent:    map[string]string{},
	}
}

// track starts following a new check whose current status the agent knows
// (its initial status).
func (n *notifier) track(id, status string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.sent[id] = status
	n.mu.Unlock()
}

// forget drops a removed check and its undelivered change.
func (n *notifier) forget(id string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	delete(n.pending, id)
	delete(n.sent, id)
	n.mu.Unlock()
}

// push queues a change.
func (n *notifier) push(u Update) {
	if n == nil {
		return
	}
	n.mu.Lock()
	if _, queued := n.pending[u.ID]; !queued {
		n.order = append(n.order, u.ID)
	}
	n.pending[u.ID] = u
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest change worth delivering and marks a call in
// progress.
func (n *notifier) next() (Update, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.busy = false
	for len(n.order) > 0 {
		id := n.order[0]
		n.order = n.order[1:]
		u, ok := n.pending[id]
		if !ok {
			continue // forgotten, or delivered from an older slot
		}
		delete(n.pending, id)
		if n.sent[id] == u.Status {
			continue // changed and changed back before its turn
		}
		n.sent[id] = u.Status
		n.busy = true
		return u, true
	}
	n.order = nil
	return Update{}, false
}

// run delivers changes until stop is closed; what is still queued then is
// dropped.
func (n *notifier) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-n.wake:
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			u, ok := n.next()
			if !ok {
				break
			}
			n.fn(u)
		}
	}
}

// idle reports whether nothing is queued or being delivered (for tests).
func (n *notifier) idle() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending) == 0 && !n.busy
}
