package agent

import (
	"testing"
	"time"

	"meridian/rpc"
)

// TestReapCriticalServices: a service whose check has been critical for
// longer than its deregister_critical_after is removed, from the agent and
// from its saved registrations; others stay.
func TestReapCriticalServices(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Node, cfg.DataDir, cfg.Servers = "n", t.TempDir(), rpc.NewServer(rpc.DefaultServerConfig())
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	reg := func(name string, after time.Duration) {
		t.Helper()
		d := rpc.ServiceDefinition{Service: &rpc.Service{Name: name},
			Checks: []rpc.CheckDefinition{{Kind: rpc.CheckTTL, TTL: rpc.Duration(time.Hour), DeregisterCriticalAfter: rpc.Duration(after)}}}
		if err := a.add(d, ""); err != nil {
			t.Fatal(err)
		}
	}
	reg("doomed", time.Minute)
	reg("kept", 0)
	reg("healthy", time.Minute)
	if err := a.UpdateTTL("service:healthy", rpc.HealthPassing, ""); err != nil {
		t.Fatal(err)
	}
	a.reap(time.Now()) // not critical long enough yet
	if len(a.Services()) != 3 {
		t.Fatalf("reaped too early: %+v", a.Services())
	}
	a.reap(time.Now().Add(2 * time.Minute))
	got := a.Services()
	if len(got) != 2 || got[0].Service.ID != "healthy" || got[1].Service.ID != "kept" {
		t.Fatalf("after reaping: %+v", got)
	}
	if !a.pending.goneServices["doomed"] {
		t.Fatal("the removal is not queued for the catalog")
	}

	// A restarted agent does not bring the reaped service back.
	a.Close()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got = b.Services()
	if len(got) != 2 || got[0].Service.ID != "healthy" || got[1].Service.ID != "kept" {
		t.Fatalf("after a restart: %+v", got)
	}
}
