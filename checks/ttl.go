package checks

import (
	"context"
	"fmt"
	"time"

	"meridian/rpc"
)

// The ttl kind, as Consul's: the check starts with its initial status and
// is told its status by the service (UpdateTTL, behind agent.check.pass,
// warn and fail). Each update resets the TTL; when none comes within the
// TTL the check turns critical with the output "TTL expired", followed by
// the last output if there was one, and stays so until the next update.
// Thresholds do not apply: an update takes effect at once.

const ttlExpired = "TTL expired"

// UpdateTTL sets the status and output of a ttl check and restarts its
// TTL. Output longer than Config.MaxOutput is cut. Notify is called if the
// status changed.
func (r *Runner) UpdateTTL(id, status, output string) error {
	if !validStatus(status) {
		return fmt.Errorf("%w %q: want passing, warning or critical", ErrInvalidStatus, clip(status))
	}
	output = capOutput(output, r.cfg.MaxOutput)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	c := r.checks[id]
	if c == nil {
		r.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownCheck, clip(id))
	}
	if c.def.Kind != rpc.CheckTTL {
		r.mu.Unlock()
		return fmt.Errorf("%w: %q is a %s check", ErrNotTTL, clip(id), c.def.Kind)
	}
	now := r.clock.Now()
	c.ttlDeadline = now.Add(c.def.TTL.Std())
	r.setLocked(c, status, output, now)
	r.mu.Unlock()
	select { // the check's goroutine re-arms its timer
	case c.reset <- struct{}{}:
	default: // a reset is pending already; it reads the new deadline
	}
	return nil
}

// runTTL is a ttl check's goroutine: it turns the check critical when its
// deadline passes. The deadline lives in the check (under r.mu), so an
// update racing with the timer wins: the timer only expires the check if
// the deadline it finds has passed.
func (r *Runner) runTTL(ctx context.Context, c *check) {
	t := r.clock.NewTimer(r.untilDeadline(c))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.reset:
			t.Reset(r.untilDeadline(c))
		case <-t.C():
			r.mu.Lock()
			now := r.clock.Now()
			if rest := c.ttlDeadline.Sub(now); rest > 0 {
				r.mu.Unlock()
				t.Reset(rest)
				continue
			}
			if r.checks[c.def.ID] == c {
				out := ttlExpired
				if c.output != "" {
					out += " (last output before timeout follows): " + c.output
				}
				r.log.Warn("check missed its TTL", "check", c.def.ID, "ttl", c.def.TTL.Std())
				r.setLocked(c, rpc.HealthCritical, capOutput(out, r.cfg.MaxOutput), now)
			}
			r.mu.Unlock()
			// Not re-armed: the check stays critical until the next update.
		}
	}
}

func (r *Runner) untilDeadline(c *check) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return c.ttlDeadline.Sub(r.clock.Now())
}

func validStatus(s string) bool {
	return s == rpc.HealthPassing || s == rpc.HealthWarning || s == rpc.HealthCritical
}
