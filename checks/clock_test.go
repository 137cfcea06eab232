package checks

import (
	"testing"
	"time"
)

// The runner relies on Go 1.23 timers: no stale value after Stop or Reset.
func TestSystemClockTimer(t *testing.T) {
	start := time.Now()
	tm := SystemClock.NewTimer(time.Millisecond)
	waitFor(t, "the timer to expire", func() bool { return time.Since(start) > 20*time.Millisecond })
	tm.Reset(time.Hour) // drops the value of the expiry, not received
	select {
	case <-tm.C():
		t.Fatal("a stale value after Reset")
	default:
	}
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer: false")
	}
	if d := time.Since(SystemClock.Now()); d < 0 || d > time.Minute {
		t.Fatalf("Now is off by %s", d)
	}
}

func TestFakeClock(t *testing.T) {
	clk := newFakeClock()
	tm := clk.NewTimer(time.Second)
	clk.Advance(999 * time.Millisecond)
	if len(tm.C()) != 0 || clk.numArmed() != 1 {
		t.Fatal("fired early")
	}
	clk.Advance(time.Millisecond)
	if len(tm.C()) != 1 || clk.numArmed() != 0 {
		t.Fatal("did not fire")
	}
	tm.Reset(time.Second)
	if len(tm.C()) != 0 || clk.numArmed() != 1 {
		t.Fatal("Reset kept a stale value")
	}
	if !tm.Stop() || tm.Stop() || clk.numArmed() != 0 {
		t.Fatal("Stop")
	}
}
