package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/integration/cluster"
	"meridian/rpc"
)

// jsonHealth is a JSON health endpoint: {"status": "ok"} while up, 503
// with {"status": "down"} otherwise.
func jsonHealth(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status": "down"}`)
			return
		}
		fmt.Fprintln(w, `{"status": "ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &up
}

// upload submits a module with PUT /v1/modules at addr, as curl would.
func upload(t *testing.T, addr, path, name string) rpc.ModuleSubmitResult {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+rpc.ModulesPath+"?name="+name, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res, err := rpc.DecodeUploadAnswer(resp)
	if err != nil {
		t.Fatalf("upload %s: HTTP %s: %v", path, resp.Status, err)
	}
	return *res
}

// TestWASMCheckEndToEnd: a Go-built module submitted through an edge,
// fetched by another edge from the servers on first use, runs as a
// service's check granted one local HTTP server; discovery follows it.
func TestWASMCheckEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := cluster.Start(t, cluster.Options{Servers: 3, KVShards: 1, Bootstrap: true})
	health, up := jsonHealth(t)
	e1 := c.AddEdgeVia(0, "edge-1")
	e2 := c.AddEdgeVia(1, "edge-2")
	cl := c.EdgeClient(e1)

	// Submitted through edge-2 (streamed to a server), by name.
	sub := upload(t, c.EdgeHTTPAddr(e2), "../wasm/examples/testdata/httpjson.wasm", "http-json")
	if len(sub.Digest) != 64 || !sub.Created || sub.ABI != 1 {
		t.Fatalf("submit: %+v", sub)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// checks.try on edge-1: passes with the grant, is refused without.
	args := json.RawMessage(fmt.Sprintf(`{"url": %q}`, health.URL+"/health"))
	var try rpc.ChecksTryResult
	if err := cl.Call(ctx, rpc.MethodChecksTry, rpc.ChecksTryParams{Module: "http-json", Args: args,
		Grants: []string{health.URL + "/"}}, &try); err != nil {
		t.Fatal(err)
	}
	if try.Status != rpc.HealthPassing || try.Node != "edge-1" {
		t.Fatalf("try with the grant: %+v", try)
	}
	if err := cl.Call(ctx, rpc.MethodChecksTry, rpc.ChecksTryParams{Module: sub.Digest, Args: args,
		Grants: []string{"http://127.0.0.1:1/"}}, &try); err != nil {
		t.Fatal(err)
	}
	if try.Status != rpc.HealthCritical || len(try.Refused) == 0 || !strings.Contains(try.Output, "not granted") {
		t.Fatalf("try without the grant: %+v", try)
	}

	// A service on edge-1 with the wasm check, registered through the API.
	def := rpc.ServiceDefinition{
		Service: &rpc.Service{Name: "web", Port: 8080},
		Checks: []rpc.CheckDefinition{{Kind: rpc.CheckWASM, Module: "http-json", Args: args,
			Grants: []string{health.URL + "/"}, Interval: rpc.Duration(time.Second), Timeout: rpc.Duration(2 * time.Second)}},
	}
	if err := cl.Call(ctx, rpc.MethodAgentServiceRegister, def, nil); err != nil {
		t.Fatal(err)
	}
	waitWeb(t, cl, "web on edge-1 passing by its wasm check", "edge-1")

	// The module is in use: deleting it is refused.
	err := cl.Call(ctx, rpc.MethodModuleDelete, rpc.ModuleDeleteParams{Module: "http-json"}, nil)
	if rpc.Code(err) != rpc.CodeInvalidParams || !strings.Contains(err.Error(), "edge-1/") {
		t.Fatalf("delete of a module in use: %v", err)
	}

	// The endpoint goes down: the instance leaves discovery; and returns.
	up.Store(false)
	waitWeb(t, cl, "web out after the endpoint fails")
	var checks rpc.HealthChecksResult
	if err := cl.Call(ctx, rpc.MethodHealthChecks, rpc.HealthChecksParams{Service: "web"}, &checks); err != nil {
		t.Fatal(err)
	}
	if len(checks.Checks) != 1 || !strings.Contains(checks.Checks[0].Output, "503") || checks.Checks[0].Kind != rpc.CheckWASM {
		t.Fatalf("check after failure: %+v", checks.Checks)
	}
	up.Store(true)
	waitWeb(t, cl, "web back", "edge-1")
}
