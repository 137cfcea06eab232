package gossip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Background join retry (Config.Join).
const (
	joinBackoffMin = 250 * time.Millisecond
	joinBackoffMax = 30 * time.Second
	joinLogEvery   = 5 // log a failed attempt at info every joinLogEvery attempts
)

// joinBackoff returns the pause after failed attempt n (1-based) before
// jitter: 250 ms doubling up to 30 s.
func joinBackoff(n int) time.Duration {
	d := joinBackoffMin
	for i := 1; i < n && d < joinBackoffMax; i++ {
		d *= 2
	}
	return min(d, joinBackoffMax)
}

// jitter spreads d over [d/2, d) for r in [0, 1), so that members started
// together do not retry together.
func jitter(d time.Duration, r float64) time.Duration {
	return d/2 + time.Duration(r*float64(d/2))
}

// joinLoop joins addrs, retrying until a join succeeds (here or through
// Pool.Join) or the pool closes.
func (p *Pool) joinLoop(addrs []string) {
	for attempt := 1; ; attempt++ {
		p.joinAttempts.Add(1)
		n, err := p.join(p.ctx, addrs)
		if err == nil {
			p.logger.Info("joined gossip pool", "contacted", n, "attempts", attempt)
			p.rejoinLoop(addrs)
			return
		}
		if p.ctx.Err() != nil {
			return
		}
		delay := jitter(joinBackoff(attempt), rand.Float64())
		level := p.logger.Debug
		if attempt == 1 || attempt%joinLogEvery == 0 {
			level = p.logger.Info
		}
		level("gossip join failed, will retry", "attempt", attempt, "retry_in", delay.Round(time.Millisecond), "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.joined: // joined through Pool.Join
			t.Stop()
			p.rejoinLoop(addrs)
			return
		case <-p.ctx.Done():
			t.Stop()
			return
		}
	}
}

// rejoinLoop joins addrs again every Config.Rejoin (jittered) until the
// pool closes, so that a pool split in two (a partition that outlived
// failure detection, or one side restarted with only the other's
// addresses) heals by itself. A join of a member already known is one
// push/pull exchange.
func (p *Pool) rejoinLoop(addrs []string) {
	if p.rejoin <= 0 {
		return
	}
	for {
		t := time.NewTimer(jitter(p.rejoin, rand.Float64()) + p.rejoin/2)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return
		}
		if _, err := p.join(p.ctx, addrs); err != nil && p.ctx.Err() == nil {
			p.logger.Debug("gossip re-join failed", "err", err)
		}
	}
}

// join contacts each address in turn, stopping early if ctx is done or the
// pool closes, and returns how many answered. Each address costs at most
// the profile's TCP timeout (1 s local, 10 s LAN, 30 s WAN).
func (p *Pool) join(ctx context.Context, addrs []string) (int, error) {
	var (
		total int
		errs  []error
	)
	for _, a := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if p.ctx.Err() != nil {
			errs = append(errs, ErrClosed)
			break
		}
		n, err := p.ml.Join([]string{a})
		total += n
		if err != nil {
			// memberlist returns a go-multierror; keep its messages one a line.
			if me, ok := err.(interface{ WrappedErrors() []error }); ok {
				errs = append(errs, me.WrappedErrors()...)
			} else {
				errs = append(errs, fmt.Errorf("join %s: %w", a, err))
			}
		}
	}
	if total > 0 {
		p.markJoined()
		return total, nil
	}
	return 0, fmt.Errorf("%w: %w", ErrJoin, errors.Join(errs...))
}

func (p *Pool) markJoined() {
	p.joinedOnce.Do(func() { close(p.joined) })
}
