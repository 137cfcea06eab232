package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Coalescing (ClientConfig.Coalesce): while a client has its quota of
// HTTP requests in flight to an address, further calls to it wait, and
// go out together as one JSON-RPC batch as soon as a request returns. At
// light load nothing waits (every call is its own request, no delay is
// added); under load, N concurrent callers share a handful of requests,
// so the per-request cost of HTTP (a goroutine wake-up, header parsing, a
// read and a write syscall on each side) is paid once per batch instead of
// once per call. This is what HTTP/2 multiplexing buys gRPC clients, done
// within HTTP/1.1 with the batches JSON-RPC 2.0 defines. The server runs
// the calls of a batch concurrently, so one slow call does not hold the
// others' answers back longer than the batch's slowest.

// maxCoalesced caps the calls in one batch (the servers' default MaxBatch),
// and maxBatchBytes their bodies together: a quarter of the servers'
// default request limit (4 MiB), so that calls that would each be taken
// alone are not refused together. A call larger than that goes alone.
const (
	maxCoalesced  = 128
	maxBatchBytes = 1 << 20
)

// lane is the calls to one address.
type lane struct {
	mu    sync.Mutex
	busy  int // requests in flight
	queue []*waiter
}

// waiter is a call waiting for a batch.
type waiter struct {
	body     []byte
	id       uint64
	deadline time.Time // zero: none

	mu        sync.Mutex
	result    any  // decoded into unless abandoned
	abandoned bool // the caller gave up: do not touch result
	done      chan error
}

func (c *Client) lane(url string) *lane {
	if l, ok := c.lanes.Load(url); ok {
		return l.(*lane)
	}
	l, _ := c.lanes.LoadOrStore(url, &lane{})
	return l.(*lane)
}

// postCoalesced is post with coalescing.
func (c *Client) postCoalesced(ctx context.Context, url string, body []byte, id uint64, result any) error {
	l := c.lane(url)
	l.mu.Lock()
	if l.busy < c.coalesce {
		l.busy++
		l.mu.Unlock()
		err := c.post(ctx, url, body, id, result)
		c.release(l, url)
		return err
	}
	w := &waiter{body: body, id: id, result: result, done: make(chan error, 1)}
	w.deadline, _ = ctx.Deadline()
	l.queue = append(l.queue, w)
	l.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		w.mu.Lock()
		w.abandoned = true
		w.mu.Unlock()
		select {
		case err := <-w.done: // answered meanwhile
			return err
		default:
		}
		return ctx.Err()
	}
}

// release gives back a request slot, or uses it for the waiting calls.
func (c *Client) release(l *lane, url string) {
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.busy--
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	go c.drain(l, url) // the caller gets its answer now
}

// drain sends the waiting calls in batches with the slot it holds.
func (c *Client) drain(l *lane, url string) {
	for {
		l.mu.Lock()
		n, size := 0, 0
		for n < min(len(l.queue), maxCoalesced) {
			size += len(l.queue[n].body) + 1
			if n > 0 && size > maxBatchBytes {
				break
			}
			n++
		}
		if n == 0 {
			l.busy--
			l.mu.Unlock()
			return
		}
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		if len(l.queue) == 0 {
			l.queue = nil
		}
		l.mu.Unlock()
		c.postBatch(url, batch)
	}
}

// postBatch sends the calls of batch as one JSON-RPC batch and hands each
// its answer. A transport error goes to each call, as it would have come
// to each alone, so their failover rules apply unchanged.
func (c *Client) postBatch(url string, batch []*waiter) {
	if len(batch) == 1 {
		w := batch[0]
		ctx, cancel := batchContext(batch)
		defer cancel()
		var raw json.RawMessage
		err := c.post(ctx, url, w.body, w.id, &raw)
		w.deliver(raw, err)
		return
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, w := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(w.body)
	}
	b.WriteByte(']')
	ctx, cancel := batchContext(batch)
	defer cancel()
	answers, err := c.postRaw(ctx, url, b.Bytes())
	if err != nil {
		for _, w := range batch {
			w.deliver(nil, err)
		}
		return
	}
	byID := make(map[string]*batchAnswer, len(answers))
	for i := range answers {
		byID[string(answers[i].ID)] = &answers[i]
	}
	for _, w := range batch {
		a := byID[strconv.FormatUint(w.id, 10)]
		switch {
		case a == nil:
			w.deliver(nil, fmt.Errorf("rpc: %s: the batch answer has no answer for call %d", url, w.id))
		case a.JSONRPC != "2.0":
			w.deliver(nil, fmt.Errorf("rpc: %s: the answer is not JSON-RPC 2.0", url))
		case a.Error != nil:
			w.deliver(nil, a.Error)
		default:
			w.deliver(a.Result, nil)
		}
	}
}

// batchContext bounds a batch by the latest deadline of its calls.
func batchContext(batch []*waiter) (context.Context, context.CancelFunc) {
	var last time.Time
	for _, w := range batch {
		if w.deadline.IsZero() {
			return context.WithCancel(context.Background())
		}
		if w.deadline.After(last) {
			last = w.deadline
		}
	}
	return context.WithDeadline(context.Background(), last)
}

// deliver decodes the result into the caller's pointer, unless the caller
// is gone, and wakes it.
func (w *waiter) deliver(raw json.RawMessage, err error) {
	w.mu.Lock()
	if err == nil && !w.abandoned && w.result != nil && len(raw) > 0 {
		fr, fast := w.result.(fastResult)
		if !fast || !fr.decodeFast(raw) {
			if e := json.Unmarshal(raw, w.result); e != nil {
				err = fmt.Errorf("rpc: decoding the answer: %w", e)
			}
		}
	}
	w.mu.Unlock()
	w.done <- err
}

type batchAnswer struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
	ID      json.RawMessage `json:"id"`
}

// postRaw posts a batch and decodes the array of answers.
func (c *Client) postRaw(ctx context.Context, url string, body []byte) ([]batchAnswer, error) {
	a, err := c.send(ctx, url, body, maxResponseBytes)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK || !a.isJSON() {
		return nil, fmt.Errorf("rpc: %s: HTTP %s: %s", url, a.statusLine, snippet(a.body))
	}
	var out []batchAnswer
	if err := json.Unmarshal(a.body, &out); err != nil {
		return nil, fmt.Errorf("rpc: %s: decoding the batch answer: %w", url, err)
	}
	return out, nil
}
