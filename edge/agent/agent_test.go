package agent_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/checks"
	"meridian/edge/agent"
	"meridian/rpc"
	"meridian/server/servertest"
)

// eventually waits for cond, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type env struct {
	api   *rpc.Server // the server's API, in process
	agent *agent.Agent
	local *rpc.Server // the agent's own API
}

func start(t *testing.T, configure func(*agent.Config)) *env {
	t.Helper()
	c := servertest.Start(t, servertest.Options{KVShards: 1})
	cfg := agent.DefaultConfig()
	cfg.Node, cfg.Address = "edge-1", "127.0.0.1"
	cfg.Servers = c.APIs[0]
	cfg.Checks = checks.DefaultConfig()
	cfg.Checks.MinInterval = 10 * time.Millisecond
	cfg.BatchDelay = 5 * time.Millisecond
	cfg.RetryInterval = 50 * time.Millisecond
	if configure != nil {
		configure(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	local := rpc.NewServer(rpc.DefaultServerConfig())
	a.Register(local)
	return &env{api: c.APIs[0], agent: a, local: local}
}

func (e *env) call(t *testing.T, method string, params, out any) error {
	t.Helper()
	return rpc.Invoke(context.Background(), e.local, method, params, out)
}

func (e *env) health(t *testing.T, name string, passingOnly bool) []rpc.ServiceInstance {
	t.Helper()
	var res rpc.HealthServiceResult
	if err := rpc.Invoke(context.Background(), e.api, rpc.MethodHealthService,
		rpc.HealthServiceParams{Name: name, PassingOnly: &passingOnly}, &res); err != nil {
		t.Fatal(err)
	}
	return res.Instances
}

// flipServer answers 200 while ok is set, 500 otherwise.
func flipServer(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var ok atomic.Bool
	ok.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &ok
}

func webDef(url string) rpc.ServiceDefinition {
	return rpc.ServiceDefinition{
		Service: &rpc.Service{Name: "web", Port: 8080, Tags: []string{"v1"}},
		Checks: []rpc.CheckDefinition{{Kind: rpc.CheckHTTP, HTTP: url,
			Interval: rpc.Duration(20 * time.Millisecond), Timeout: rpc.Duration(time.Second)}},
	}
}

func TestServiceFollowsItsCheck(t *testing.T) {
	e := start(t, nil)
	srv, ok := flipServer(t)
	var res rpc.OKResult
	if err := e.call(t, rpc.MethodAgentServiceRegister, webDef(srv.URL), &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "web to be passing in the catalog", func() bool {
		return len(e.health(t, "web", true)) == 1
	})
	inst := e.health(t, "web", true)[0]
	// The agent's own registration gives its node the gossip check, which
	// the servers turn critical when the agent dies.
	if inst.Node.Node != "edge-1" || inst.Service.ID != "web" || len(inst.Checks) != 2 ||
		inst.Checks[0].ID != rpc.NodeCheckID || inst.Checks[1].ID != "service:web" {
		t.Fatalf("instance %+v", inst)
	}
	ok.Store(false)
	eventually(t, 10*time.Second, "web to leave discovery", func() bool {
		return len(e.health(t, "web", true)) == 0
	})
	all := e.health(t, "web", false)
	if len(all) != 1 || !strings.Contains(all[0].Checks[1].Output, "500") {
		t.Fatalf("critical instance: %+v", all)
	}
	ok.Store(true)
	eventually(t, 10*time.Second, "web to come back", func() bool {
		return len(e.health(t, "web", true)) == 1
	})

	var svcs rpc.AgentServicesResult
	e.call(t, rpc.MethodAgentServices, nil, &svcs)
	if len(svcs.Services) != 1 || svcs.Services[0].Checks[0].Status != rpc.HealthPassing {
		t.Fatalf("agent.services: %+v", svcs)
	}
	if err := e.call(t, rpc.MethodAgentServiceDeregister, rpc.AgentIDParams{ID: "web"}, &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "web to be deregistered", func() bool {
		return len(e.health(t, "web", false)) == 0
	})
	if err := e.call(t, rpc.MethodAgentServiceDeregister, rpc.AgentIDParams{ID: "web"}, &res); !errors.Is(err, rpc.ErrNotFound) {
		t.Fatalf("second deregister: %v", err)
	}
}

func TestTTLCheck(t *testing.T) {
	e := start(t, nil)
	def := rpc.ServiceDefinition{Service: &rpc.Service{Name: "batch"},
		Checks: []rpc.CheckDefinition{{ID: "batch-ttl", Kind: rpc.CheckTTL, TTL: rpc.Duration(time.Hour)}}}
	var res rpc.OKResult
	if err := e.call(t, rpc.MethodAgentServiceRegister, def, &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "batch registered critical", func() bool {
		all := e.health(t, "batch", false)
		return len(all) == 1 && all[0].Checks[0].Status == rpc.HealthCritical
	})
	if err := e.call(t, rpc.MethodAgentCheckPass, rpc.AgentCheckUpdateParams{ID: "batch-ttl", Output: "done"}, &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "batch passing", func() bool {
		p := e.health(t, "batch", true)
		return len(p) == 1 && p[0].Checks[0].Output == "done"
	})
	if err := e.call(t, rpc.MethodAgentCheckPass, rpc.AgentCheckUpdateParams{ID: "nope"}, &res); !errors.Is(err, rpc.ErrNotFound) {
		t.Fatalf("pass of unknown check: %v", err)
	}
}

func TestFullSyncPutsBackWhatOthersChanged(t *testing.T) {
	e := start(t, func(c *agent.Config) { c.SyncInterval = 200 * time.Millisecond })
	srv, _ := flipServer(t)
	var res rpc.OKResult
	if err := e.call(t, rpc.MethodAgentServiceRegister, webDef(srv.URL), &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "web passing", func() bool { return len(e.health(t, "web", true)) == 1 })
	// Someone removes it from the catalog, and registers a stray service.
	var w rpc.WriteResult
	if err := rpc.Invoke(context.Background(), e.api, rpc.MethodCatalogDeregister, rpc.CatalogDeregisterParams{Node: "edge-1", ServiceID: "web"}, &w); err != nil {
		t.Fatal(err)
	}
	if err := rpc.Invoke(context.Background(), e.api, rpc.MethodCatalogRegister, rpc.CatalogRegisterParams{Node: "edge-1",
		Services: []rpc.Service{{ID: "stray", Name: "stray"}}}, &w); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the edge to put web back and drop stray", func() bool {
		return len(e.health(t, "web", true)) == 1 && len(e.health(t, "stray", false)) == 0
	})
}

func TestBadDefinitions(t *testing.T) {
	e := start(t, nil)
	srv, _ := flipServer(t)
	var res rpc.OKResult
	if err := e.call(t, rpc.MethodAgentServiceRegister, webDef(srv.URL), &res); err != nil {
		t.Fatal(err)
	}
	ms := func(d time.Duration) rpc.Duration { return rpc.Duration(d) }
	big := map[string]string{}
	for i := range 65 {
		big[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name string
		def  rpc.ServiceDefinition
		want string
	}{
		{"no name", rpc.ServiceDefinition{Service: &rpc.Service{ID: "x"}}, `"service.name"`},
		{"unknown check kind", rpc.ServiceDefinition{Service: &rpc.Service{Name: "x"}, Checks: []rpc.CheckDefinition{{Kind: "script"}}}, `checks[0]`},
		{"absurd interval", rpc.ServiceDefinition{Service: &rpc.Service{Name: "x"}, Checks: []rpc.CheckDefinition{{Kind: rpc.CheckTCP, TCP: "127.0.0.1:1", Interval: ms(time.Nanosecond)}}}, `interval`},
		{"duplicate check ids", rpc.ServiceDefinition{Service: &rpc.Service{Name: "x"}, Checks: []rpc.CheckDefinition{
			{ID: "c", Kind: rpc.CheckTTL, TTL: ms(time.Minute)}, {ID: "c", Kind: rpc.CheckTTL, TTL: ms(time.Minute)}}}, `check id "c" is taken`},
		{"check id of another service", rpc.ServiceDefinition{Service: &rpc.Service{Name: "x"}, Checks: []rpc.CheckDefinition{
			{ID: "service:web", Kind: rpc.CheckTTL, TTL: ms(time.Minute)}}}, `already belongs to service "web"`},
		{"oversized meta", rpc.ServiceDefinition{Service: &rpc.Service{Name: "x", Meta: big}}, `"service.meta": 65 pairs`},
		{"no service", rpc.ServiceDefinition{}, `"service"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.call(t, rpc.MethodAgentServiceRegister, tc.def, &res)
			var re *rpc.Error
			if !errors.As(err, &re) || re.Code != rpc.CodeInvalidParams || !strings.Contains(re.Message, tc.want) {
				t.Fatalf("error %v, want invalid params naming %q", err, tc.want)
			}
		})
	}
	// Nothing already registered was lost.
	var svcs rpc.AgentServicesResult
	e.call(t, rpc.MethodAgentServices, nil, &svcs)
	if len(svcs.Services) != 1 || svcs.Services[0].Service.ID != "web" || len(svcs.Services[0].Checks) != 1 {
		t.Fatalf("after bad input: %+v", svcs)
	}
}

func TestConfigDir(t *testing.T) {
	good := `{"service": {"name": "api", "port": 9000}, "checks": [{"kind": "ttl", "ttl": "1m"}]}`
	tests := []struct {
		name  string
		files map[string]string
		want  string // "" = starts
	}{
		{"good", map[string]string{"api.json": good}, ""},
		{"unknown field", map[string]string{"api.json": `{"service": {"name": "api", "prot": 9000}}`}, `api.json: unknown field "prot"`},
		{"wrong type", map[string]string{"api.json": `{"service": {"name": "api", "port": "9000"}}`}, `api.json: field "service.port"`},
		{"syntax", map[string]string{"api.json": "{\n\"service\": {"}, `api.json`},
		{"two files, one id", map[string]string{"a.json": good, "b.json": good}, `already defined by file`},
		{"bad check", map[string]string{"api.json": `{"service": {"name": "api"}, "checks": [{"kind": "http"}]}`}, `api.json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
			}
			cfg := agent.DefaultConfig()
			cfg.Node, cfg.ConfigDir, cfg.Servers = "n", dir, rpc.NewServer(rpc.DefaultServerConfig())
			a, err := agent.New(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				if s := a.Services(); len(s) != 1 || s[0].Service.Port != 9000 {
					t.Fatalf("services %+v", s)
				}
				return
			}
			if err == nil {
				a.Close()
				t.Fatalf("started; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRegistrationsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := agent.DefaultConfig()
	cfg.Node, cfg.DataDir, cfg.Servers = "n", dir, rpc.NewServer(rpc.DefaultServerConfig())
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	local := rpc.NewServer(rpc.DefaultServerConfig())
	a.Register(local)
	def := rpc.ServiceDefinition{Service: &rpc.Service{Name: "kept", Port: 1},
		Checks: []rpc.CheckDefinition{{Kind: rpc.CheckTTL, TTL: rpc.Duration(time.Minute)}}}
	if err := rpc.Invoke(context.Background(), local, rpc.MethodAgentServiceRegister, def, nil); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if s := b.Services(); len(s) != 1 || s[0].Service.ID != "kept" || len(s[0].Checks) != 1 {
		t.Fatalf("after restart: %+v", s)
	}
}

func TestCheckRegisterAndDeregister(t *testing.T) {
	e := start(t, nil)
	var res rpc.OKResult
	def := rpc.ServiceDefinition{Service: &rpc.Service{Name: "api"},
		Checks: []rpc.CheckDefinition{{ID: "api-ttl", Kind: rpc.CheckTTL, TTL: rpc.Duration(time.Hour), Status: rpc.HealthPassing}}}
	if err := e.call(t, rpc.MethodAgentServiceRegister, def, &res); err != nil {
		t.Fatal(err)
	}
	// A node-level check: it decides the health of every service on the node.
	node := rpc.AgentCheckRegisterParams{Check: rpc.CheckDefinition{Name: "disk", Kind: rpc.CheckTTL, TTL: rpc.Duration(time.Hour)}}
	if err := e.call(t, rpc.MethodAgentCheckRegister, node, &res); err != nil {
		t.Fatal(err)
	}
	// One more check of the service, beside its first.
	extra := rpc.AgentCheckRegisterParams{Check: rpc.CheckDefinition{ID: "api-extra", ServiceID: "api", Kind: rpc.CheckTTL,
		TTL: rpc.Duration(time.Hour), Status: rpc.HealthPassing}}
	if err := e.call(t, rpc.MethodAgentCheckRegister, extra, &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "api with three checks and the gossip check, critical through the node check", func() bool {
		all := e.health(t, "api", false)
		return len(all) == 1 && len(all[0].Checks) == 4 && len(e.health(t, "api", true)) == 0
	})
	if err := e.call(t, rpc.MethodAgentCheckPass, rpc.AgentCheckUpdateParams{ID: "disk"}, &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "api passing once the node check passes", func() bool {
		return len(e.health(t, "api", true)) == 1
	})
	if err := e.call(t, rpc.MethodAgentCheckDeregister, rpc.AgentIDParams{ID: "api-extra"}, &res); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "api-extra gone from the catalog", func() bool {
		all := e.health(t, "api", false)
		return len(all) == 1 && len(all[0].Checks) == 3
	})
	var svcs rpc.AgentServicesResult
	e.call(t, rpc.MethodAgentServices, nil, &svcs)
	if len(svcs.Services) != 1 || len(svcs.Services[0].Checks) != 1 || svcs.Services[0].Checks[0].ID != "api-ttl" {
		t.Fatalf("agent.services: %+v", svcs)
	}
	bad := rpc.AgentCheckRegisterParams{Check: rpc.CheckDefinition{ID: "x", ServiceID: "nope", Kind: rpc.CheckTTL, TTL: rpc.Duration(time.Minute)}}
	if err := e.call(t, rpc.MethodAgentCheckRegister, bad, &res); err == nil || !strings.Contains(err.Error(), `no service "nope"`) {
		t.Fatalf("check of an unknown service: %v", err)
	}
}
