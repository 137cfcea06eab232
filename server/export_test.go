package server

import "time"

// SetClock makes s read the time from now: a fake clock for tests of
// Reconcile's grace period.
func SetClock(s *Server, now func() time.Time) { s.now = now }
