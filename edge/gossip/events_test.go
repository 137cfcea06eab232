package gossip

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestEventQueueOrder(t *testing.T) {
	const n = 1000
	var (
		mu  sync.Mutex
		got []string
	)
	q := newEventQueue(func(e Event) {
		mu.Lock()
		got = append(got, e.Member.Name)
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.run(ctx); close(done) }()
	for i := range n {
		q.push(Event{Kind: EventJoin, Member: Member{Name: itoa(i)}})
	}
	waitFor(t, 5*time.Second, "all events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	cancel()
	<-done
	for i, name := range got {
		if name != itoa(i) {
			t.Fatalf("event %d is %s", i, name)
		}
	}
}
