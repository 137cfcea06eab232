package gossip

import (
	"testing"
	"time"
)

func TestJoinBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{1, 250 * time.Millisecond},
		{2, 500 * time.Millisecond},
		{3, time.Second},
		{7, 16 * time.Second},
		{8, 30 * time.Second},
		{1000, 30 * time.Second},
	} {
		if got := joinBackoff(tc.attempt); got != tc.want {
			t.Errorf("joinBackoff(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	for _, r := range []float64{0, 0.5, 0.999} {
		if d := jitter(time.Second, r); d < 500*time.Millisecond || d >= time.Second {
			t.Errorf("jitter(1s, %v) = %v", r, d)
		}
	}
}
