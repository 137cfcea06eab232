package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestRTT: probes between two members give each a round trip for the
// other, and none for a stranger.
func TestRTT(t *testing.T) {
	a, _ := startPool(t, testConfig(t, "a", RoleServer))
	cb := testConfig(t, "b", RoleServer)
	cb.Join = []string{a.Addr()}
	b, _ := startPool(t, cb)
	waitFor(t, 20*time.Second, "a and b to measure each other", func() bool {
		_, ab := a.RTT("b")
		_, ba := b.RTT("a")
		return ab && ba
	})
	if d, _ := a.RTT("b"); d <= 0 || d > 5*time.Second {
		t.Errorf("a's RTT to b on loopback is %v", d)
	}
	if _, ok := a.RTT("nobody"); ok {
		t.Error("RTT of a member that does not exist")
	}
}

// TestRejoinHealsSplit: b declares a dead and stops gossiping to it; a
// comes back empty on the same address (it knows nobody). Only b's
// Rejoin, joining that address again, brings the two together: without
// it this test times out (tried).
func TestRejoinHealsSplit(t *testing.T) {
	forgetDead := func(c *memberlist.Config) { c.GossipToTheDeadTime = 100 * time.Millisecond }
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ca := testConfig(t, "a", RoleServer)
	ca.BindAddr, ca.tune = addr, forgetDead
	a, _ := startPool(t, ca)
	cb := testConfig(t, "b", RoleServer)
	cb.Join, cb.Rejoin, cb.tune = []string{addr}, time.Second, forgetDead
	b, _ := startPool(t, cb)
	waitFor(t, 20*time.Second, "b to join a", func() bool { return len(a.Members()) == 2 })

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "b to declare a dead", func() bool { return len(b.Members()) == 1 })
	var a2 *Pool
	retry(t, 20*time.Second, func() error { // the port may linger a moment
		p, err := New(ca)
		a2 = p
		return err
	})
	t.Cleanup(func() { _ = a2.Close() })
	waitFor(t, 20*time.Second, "the new a to learn of b by b's re-join", func() bool {
		for _, m := range a2.Members() {
			if m.Name == "b" {
				return true
			}
		}
		return false
	})
}
