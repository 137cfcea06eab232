package server

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A server stops only when both hold: its disk is below the reserve, and
// its Raft work has made no progress for stallLimit. A full disk alone
// (writes refused, replication going on) or a stall alone (a cluster that
// lost its quorum elects no leader: Stuck is 0) keeps it running.
func TestStalledNeedsAFullDiskAndNoProgress(t *testing.T) {
	// The guard's figures as a check has just left them: the filesystem
	// is outside the test's control, so they are set, not measured.
	guard := func(full bool) *diskGuard {
		g := &diskGuard{dir: "/data/s1", reserve: 64 << 20, checked: time.Now().Add(time.Hour), free: 3 << 10, size: 48 << 20}
		if full {
			g.err = errors.New("disk full")
		}
		return g
	}
	for _, tc := range []struct {
		full  bool
		stuck time.Duration
		stop  bool
	}{
		{full: false, stuck: time.Hour},
		{full: true, stuck: 0},
		{full: true, stuck: stallLimit - time.Second},
		{full: true, stuck: stallLimit, stop: true},
	} {
		err := stalled(guard(tc.full), tc.stuck)
		if (err != nil) != tc.stop {
			t.Errorf("full %v, stuck %v: %v, want a stop: %v", tc.full, tc.stuck, err, tc.stop)
			continue
		}
		if err != nil {
			for _, want := range []string{"no space left on device", "3 KiB free", "/data/s1", "10s"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
		}
	}
}
