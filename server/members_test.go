package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"meridian/integration/fakeclock"
	"meridian/rpc"
	"meridian/server"
	"meridian/server/servertest"
)

func passingNodes(t *testing.T, c *servertest.Cluster) []string {
	t.Helper()
	res := healthy(t, c, 0, rpc.HealthServiceParams{Name: "web"})
	var out []string
	for _, in := range res.Instances {
		out = append(out, in.Node.Node)
	}
	slices.Sort(out)
	return out
}

// TestReconcileFailsNodesGossipNeverKnew reproduces an edge whose join
// never reached the system shard's leader: it registered itself, then died
// before its alive message got there, so the leader's gossip pool knows
// nothing of it, not even its death. Its services must still leave
// discovery, once the grace period shows gossip is not merely slow.
func TestReconcileFailsNodesGossipNeverKnew(t *testing.T) {
	const grace = time.Minute
	c := servertest.Start(t, servertest.Options{Configure: func(_ int, cfg *server.Config) {
		cfg.UnknownNodeGrace = grace
	}})
	s := c.Servers[0]
	clock := fakeclock.New(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	server.SetClock(s, clock.Now)
	ctx := context.Background()

	edge := webOn("edge-2", 8080, rpc.HealthPassing)
	edge.Agent, edge.Sync = true, true
	register(t, c, 0, edge)
	external := webOn("ext-1", 8081, rpc.HealthPassing) // no agent: no gossip check
	register(t, c, 0, external)
	members := []server.Member{{Name: "s1", Addr: "127.0.0.1:7301", Status: server.MemberAlive}}

	reconcile := func() {
		t.Helper()
		if err := s.Reconcile(ctx, members); err != nil {
			t.Fatal(err)
		}
	}
	passing := func(want ...string) {
		t.Helper()
		if got := passingNodes(t, c); !slices.Equal(got, want) {
			t.Fatalf("passing nodes %v, want %v", got, want)
		}
	}
	// unknownFor lets the grace period almost pass, then pass.
	unknownFor := func() {
		t.Helper()
		reconcile()
		clock.Add(grace - time.Second)
		reconcile()
		passing("edge-2", "ext-1")
		clock.Add(2 * time.Second)
		reconcile()
		passing("ext-1")
		var checks rpc.HealthChecksResult
		c.Call(t, 0, rpc.MethodHealthNode, rpc.HealthNodeParams{Node: "edge-2"}, &checks)
		if i := slices.IndexFunc(checks.Checks, func(ch rpc.Check) bool { return ch.ID == rpc.NodeCheckID }); i < 0 || checks.Checks[i].Status != rpc.HealthCritical {
			t.Fatalf("edge-2's checks %+v, want its gossip check critical", checks.Checks)
		}
	}
	unknownFor()

	// The agent comes back: gossip sees it alive and its services return.
	members = append(members, server.Member{Name: "edge-2", Addr: "127.0.0.1:7302", Status: server.MemberAlive})
	reconcile()
	passing("edge-2", "ext-1")

	// Gossip forgets it: the grace starts over.
	members = members[:1]
	unknownFor()
}
