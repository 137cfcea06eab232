package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"meridian/rpc"
	"meridian/server/servertest"
)

func register(t *testing.T, c *servertest.Cluster, i int, p rpc.CatalogRegisterParams) rpc.WriteResult {
	t.Helper()
	var res rpc.WriteResult
	c.Call(t, i, rpc.MethodCatalogRegister, p, &res)
	if !res.OK || res.Index == 0 {
		t.Fatalf("register %s: %+v", p.Node, res)
	}
	return res
}

func webOn(node string, port int, status string) rpc.CatalogRegisterParams {
	return rpc.CatalogRegisterParams{Node: node, Address: "127.0.0.1",
		Services: []rpc.Service{{Name: "web", Port: port, Tags: []string{"v1"}}},
		Checks:   []rpc.Check{{ID: "web-http", Name: "web http", ServiceID: "web", Status: status}}}
}

func healthy(t *testing.T, c *servertest.Cluster, i int, p rpc.HealthServiceParams) rpc.HealthServiceResult {
	t.Helper()
	var res rpc.HealthServiceResult
	c.Call(t, i, rpc.MethodHealthService, p, &res)
	return res
}

func TestCatalogThroughFollowers(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 3, KVShards: 1})
	register(t, c, 1, webOn("edge-1", 8080, rpc.HealthPassing))
	w := register(t, c, 2, webOn("edge-2", 8081, rpc.HealthCritical))

	// Linearizable read on the third server sees both writes.
	res := healthy(t, c, 0, rpc.HealthServiceParams{Name: "web"})
	if len(res.Instances) != 1 || res.Instances[0].Node.Node != "edge-1" || res.Index < w.Index {
		t.Fatalf("passing instances: %+v", res)
	}
	all := healthy(t, c, 0, rpc.HealthServiceParams{Name: "web", PassingOnly: new(false)})
	if len(all.Instances) != 2 {
		t.Fatalf("all instances: %+v", all)
	}

	// A blocking query wakes when edge-2 turns passing.
	done := make(chan rpc.HealthServiceResult, 1)
	go func() {
		var r rpc.HealthServiceResult
		c.TryCall(1, rpc.MethodHealthService, rpc.HealthServiceParams{Name: "web",
			ReadOptions: rpc.ReadOptions{Index: res.Index, Wait: rpc.Duration(30 * time.Second)}}, &r)
		done <- r
	}()
	var up rpc.WriteResult
	c.Call(t, 0, "catalog.update_checks", rpc.CheckUpdateParams{Node: "edge-2",
		Checks: []rpc.CheckStatus{{ID: "web-http", Status: rpc.HealthPassing, Output: "HTTP 200"}}}, &up)
	select {
	case r := <-done:
		if len(r.Instances) != 2 || r.Index < up.Index {
			t.Fatalf("blocking query woke with %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("blocking query did not wake on a status change")
	}

	var svcs rpc.CatalogServicesResult
	c.Call(t, 0, rpc.MethodCatalogServices, rpc.CatalogServicesParams{}, &svcs)
	if tags := svcs.Services["web"]; len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("services: %+v", svcs)
	}
	var nodes rpc.CatalogNodesResult
	c.Call(t, 0, rpc.MethodCatalogNodes, rpc.CatalogNodesParams{ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}}, &nodes)
	if nodes.KnownLeader == nil {
		t.Fatalf("stale read without known_leader: %+v", nodes)
	}
	var checks rpc.HealthChecksResult
	c.Call(t, 0, rpc.MethodHealthState, rpc.HealthStateParams{State: rpc.HealthPassing}, &checks)
	if len(checks.Checks) != 2 {
		t.Fatalf("passing checks: %+v", checks)
	}

	var del rpc.WriteResult
	c.Call(t, 0, rpc.MethodCatalogDeregister, rpc.CatalogDeregisterParams{Node: "edge-1"}, &del)
	var node rpc.CatalogNodeResult
	c.Call(t, 2, rpc.MethodCatalogNode, rpc.CatalogNodeParams{Node: "edge-1"}, &node)
	if node.Node != nil || node.Index < del.Index {
		t.Fatalf("deregistered node: %+v", node)
	}
}

func TestCatalogBadInput(t *testing.T) {
	c := servertest.Start(t, servertest.Options{KVShards: 1})
	register(t, c, 0, webOn("edge-1", 8080, rpc.HealthPassing))
	big := map[string]string{}
	for i := range 70 {
		big[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name   string
		method string
		params any
		want   string
	}{
		{"no node", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{}, `"node": must not be empty`},
		{"service without name", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "n", Services: []rpc.Service{{ID: "x"}}}, `"services[0].name"`},
		{"duplicate service ids", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "n", Services: []rpc.Service{{Name: "a"}, {Name: "a"}}}, `"services[1].id": service id "a" appears twice`},
		{"port out of range", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "n", Services: []rpc.Service{{Name: "a", Port: 70000}}}, `"services[0].port"`},
		{"oversized meta", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "n", NodeMeta: big}, `"node_meta": 70 pairs`},
		{"bad status", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "n", Checks: []rpc.Check{{ID: "c", Status: "ok"}}}, `"checks[0].status"`},
		{"check of a missing service", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "n", Checks: []rpc.Check{{ID: "c", ServiceID: "nope", Status: rpc.HealthPassing}}}, `names service "nope"`},
		{"slash in node", rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "a/b"}, `"node"`},
		{"update of unknown check", "catalog.update_checks", rpc.CheckUpdateParams{Node: "edge-1", Checks: []rpc.CheckStatus{{ID: "nope", Status: rpc.HealthPassing}}}, `no check ["nope"]`},
		{"bad health state", rpc.MethodHealthState, rpc.HealthStateParams{State: "fine"}, `"state"`},
		{"wrong type", rpc.MethodCatalogRegister, map[string]any{"node": 5}, `node`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out any
			err := c.TryCall(0, tc.method, tc.params, &out)
			var re *rpc.Error
			if !errors.As(err, &re) || !strings.Contains(re.Message, tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Nothing already registered was lost.
	res := healthy(t, c, 0, rpc.HealthServiceParams{Name: "web"})
	if len(res.Instances) != 1 {
		t.Fatalf("after bad input: %+v", res)
	}
}
