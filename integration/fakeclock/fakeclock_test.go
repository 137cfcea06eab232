package fakeclock

import (
	"testing"
	"time"
)

func TestAdd(t *testing.T) {
	start := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	c := New(start)
	c.Add(90 * time.Second)
	if got := c.Now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("Now after Add(90s) = %v", got)
	}
}
