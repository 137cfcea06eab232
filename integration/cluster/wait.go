package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PollInterval is the step of every wait of this package.
const PollInterval = 25 * time.Millisecond

// errGaveUp marks a condition that can no longer become true (a server
// crashed): Eventually returns it at once instead of waiting out ctx.
var errGaveUp = errors.New("cluster: gave up")

// Eventually calls cond every PollInterval until it returns nil, and
// returns nil then; or, when ctx ends first, an error naming what was
// awaited and cond's last error. ctx should carry a deadline: that is the
// bound of the wait. cond gets ctx to bound its own calls.
func Eventually(ctx context.Context, what string, cond func(ctx context.Context) error) error {
	began := time.Now()
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, errGaveUp) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: still not true after %v (%v); last: %w",
				what, time.Since(began).Round(time.Millisecond), context.Cause(ctx), err)
		case <-t.C:
		}
	}
}
