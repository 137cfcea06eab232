package checks

import "time"

// Clock tells the time and makes timers. The runner takes its schedule
// (start stagger, intervals) and TTL deadlines from it, so tests can drive
// them; a probe's own timeout is an I/O deadline and always real time.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is what the runner uses of *time.Timer, with its Go 1.23 meaning:
// once Stop or Reset returns, no value from before is received on C.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// SystemClock is the real clock, the default.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
