package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

// upDown is an HTTP server a check watches: 200 while up, 503 otherwise.
func upDown(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "going down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &up
}

// serviceDir writes a -config-dir with a "web" service whose http check
// polls url every second.
func serviceDir(t *testing.T, url string, port int) string {
	dir := t.TempDir()
	def := fmt.Sprintf(`{"service": {"name": "web", "port": %d, "tags": ["v1"]},
 "checks": [{"kind": "http", "http": %q, "interval": "1s", "timeout": "1s"}]}`, port, url)
	if err := os.WriteFile(filepath.Join(dir, "web.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// passingNodes asks an edge which nodes have a passing "web".
func passingNodes(ctx context.Context, c *rpc.Client) ([]string, error) {
	var res rpc.HealthServiceResult
	if err := c.Call(ctx, rpc.MethodHealthService, rpc.HealthServiceParams{Name: "web"}, &res); err != nil {
		return nil, err
	}
	var out []string
	for _, in := range res.Instances {
		out = append(out, in.Node.Node)
	}
	sort.Strings(out)
	return out, nil
}

func waitWeb(t *testing.T, c *rpc.Client, what string, want ...string) {
	t.Helper()
	// Gossip must first declare a killed member dead (about 7 s in the
	// local profile), then the system shard's leader reconciles: give a
	// busy CI machine room.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cluster.Eventually(ctx, what, func(ctx context.Context) error {
		got, err := passingNodes(ctx, c)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("passing web instances on %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEdgesAndHealth: three servers formed with -bootstrap-expect and
// three edges, each joined through a different server, as real processes;
// two edges run http checks against HTTP servers of this test, and
// discovery follows the checks, and gossip when an edge dies or leaves.
func TestEdgesAndHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 1, Bootstrap: true})
	web1, _ := upDown(t)
	web2, up2 := upDown(t)
	e1 := c.AddEdgeVia(0, "edge-1", "-config-dir", serviceDir(t, web1.URL, 8081))
	e2 := c.AddEdgeVia(1, "edge-2", "-config-dir", serviceDir(t, web2.URL, 8082))
	e3 := c.AddEdgeVia(2, "edge-3")
	cl := c.EdgeClient(e3) // asks through the edge without services

	waitWeb(t, cl, "both web instances passing", "edge-1", "edge-2")

	// Calls an edge does not answer itself reach the servers.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := cl.KVPut(ctx, &rpc.KVPutParams{Key: "app/x", Value: []byte("1")}); err != nil {
		t.Fatalf("kv.put through an edge: %v", err)
	}
	err := cluster.Eventually(ctx, "edge-3 to see all six members", func(ctx context.Context) error {
		var members rpc.AgentMembersResult
		if err := cl.Call(ctx, rpc.MethodAgentMembers, nil, &members); err != nil {
			return err
		}
		if len(members.Members) != 6 {
			return fmt.Errorf("agent.members: %+v", members.Members)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The check fails: edge-2's instance leaves discovery, and returns.
	up2.Store(false)
	waitWeb(t, cl, "edge-2 out after its check fails", "edge-1")
	up2.Store(true)
	waitWeb(t, cl, "edge-2 back after its check passes", "edge-1", "edge-2")

	// SIGKILL edge-2: gossip declares it dead and its instance leaves.
	c.KillEdge(e2)
	waitWeb(t, cl, "edge-2 out after SIGKILL", "edge-1")
	var node rpc.HealthChecksResult
	if err := cl.Call(ctx, rpc.MethodHealthNode, rpc.HealthNodeParams{Node: "edge-2"}, &node); err != nil {
		t.Fatal(err)
	}
	for _, ch := range node.Checks {
		if ch.ID == rpc.NodeCheckID && ch.Status != rpc.HealthCritical {
			t.Fatalf("gossip check of a dead edge: %+v", ch)
		}
	}
	c.RestartEdge(e2)
	waitWeb(t, cl, "edge-2 back after restart", "edge-1", "edge-2")

	// A graceful stop leaves gossip: the node is deregistered.
	c.StopEdge(e1)
	err = cluster.Eventually(ctx, "edge-1 deregistered", func(ctx context.Context) error {
		var n rpc.CatalogNodeResult
		if err := cl.Call(ctx, rpc.MethodCatalogNode, rpc.CatalogNodeParams{Node: "edge-1"}, &n); err != nil {
			return err
		}
		if n.Node != nil {
			return fmt.Errorf("edge-1 still in the catalog with %d services", len(n.Services))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitWeb(t, cl, "only edge-2 after edge-1 left", "edge-2")
}
