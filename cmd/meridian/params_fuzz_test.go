package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	edgeagent "meridian/edge/agent"
	"meridian/rpc"
	"meridian/server"
	"meridian/server/servertest"
)

// paramsFuzzSkipped are the methods FuzzMethodParams leaves out: valid
// params would change the test server's membership (a one-server
// datacenter that adds a phantom replica loses its quorum).
var paramsFuzzSkipped = []string{server.MethodClusterJoin, server.MethodClusterRemove}

// paramsFuzzSeeds are well-formed params per method, for the fuzzer to
// start from; every method also gets the generic seeds of FuzzMethodParams.
var paramsFuzzSeeds = map[string][]string{
	rpc.MethodKVGet:    {`{"key":"app/a"}`, `{"key":"app/a","consistency":"stale"}`, `{"key":"app/a","index":1,"wait":"10ms"}`},
	rpc.MethodKVList:   {`{"prefix":"app/","keys_only":true,"separator":"/"}`, `{"prefix":""}`},
	rpc.MethodKVPut:    {`{"key":"app/a","value":"aGVsbG8=","flags":7}`, `{"key":"app/a","value":"","cas":0}`},
	rpc.MethodKVDelete: {`{"key":"app/","recurse":true}`, `{"key":"app/a","cas":3}`},
	rpc.MethodKVTxn:    {`{"ops":[{"verb":"set","key":"app/a","value":"eA=="},{"verb":"get","key":"app/a"},{"verb":"check-index","key":"app/a","index":1}]}`},
	rpc.MethodCatalogRegister: {`{"node":"n1","address":"10.0.0.1","node_meta":{"rack":"r1"},"services":[{"name":"web","port":80,"tags":["v1"],"meta":{"a":"b"}}],` +
		`"checks":[{"node":"n1","id":"c1","name":"c","status":"passing","service_id":"web"}],"sync":true}`},
	rpc.MethodCatalogDeregister:   {`{"node":"n1","service_id":"web"}`, `{"node":"n1","check_id":"c1"}`},
	rpc.MethodCatalogUpdateChecks: {`{"node":"n1","checks":[{"id":"c1","status":"critical","output":"down"}]}`},
	rpc.MethodCatalogNode:         {`{"node":"n1"}`},
	rpc.MethodCatalogService:      {`{"name":"web","tag":"v1"}`},
	rpc.MethodHealthService:       {`{"name":"web","passing_only":false}`},
	rpc.MethodHealthNode:          {`{"node":"n1"}`},
	rpc.MethodHealthChecks:        {`{"name":"web"}`},
	rpc.MethodHealthState:         {`{"state":"any"}`},
	rpc.MethodModuleSubmit:        {`{"body":"AGFzbQEAAAA=","name":"empty"}`},
	rpc.MethodModuleGet:           {`{"module":"empty","with_body":true}`},
	rpc.MethodModuleDelete:        {`{"module":"empty","force":true,"name_only":true}`},
	rpc.MethodAgentServiceRegister: {`{"service":{"name":"web","port":80},"checks":[{"kind":"ttl","ttl":"1m"}]}`,
		`{"service":{"name":"web"},"checks":[{"kind":"tcp","tcp":"127.0.0.1:1","interval":"1h","timeout":"1s"}]}`},
	rpc.MethodAgentServiceDeregister: {`{"id":"web"}`},
	rpc.MethodAgentCheckRegister:     {`{"name":"disk","kind":"ttl","ttl":"1m"}`},
	rpc.MethodAgentCheckDeregister:   {`{"id":"disk"}`},
	rpc.MethodAgentCheckPass:         {`{"id":"disk","output":"ok"}`},
	rpc.MethodChecksTry:              {`{"module":"empty","args":["a"],"timeout":"1s"}`},
	rpc.MethodAgentMembers:           {`{"wan":true}`},
}

// namesAField is what the message of an invalid-params error must hold
// (docs/api.md: "the message names the field and what was expected").
var namesAField = regexp.MustCompile(`field "|unknown field|params must be an object`)

// FuzzMethodParams sends fuzzed params to every method a server's
// JSON-RPC front serves, as cmd/meridian assembles it (the server's
// methods and its agent's), through the real decoding and validation of
// each method, on a real one-server datacenter. Invariants: no call
// panics or fails internally (-32603); an error is one a method may
// answer with; an invalid-params error names the field at fault.
//
// The input is a method (an index into the sorted registry) and the
// params; params that are not JSON are not a params test (FuzzHandle in
// rpc covers bodies that are not JSON).
func FuzzMethodParams(f *testing.F) {
	c := servertest.Start(f, servertest.Options{KVShards: 1})
	api := c.APIs[0]
	cfg := edgeagent.DefaultConfig()
	cfg.Node, cfg.Role, cfg.Servers = "s1", "server", api
	a, err := edgeagent.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	a.Register(api)
	var methods []string
	for _, m := range api.Methods() {
		if !slices.Contains(paramsFuzzSkipped, m.Name) {
			methods = append(methods, m.Name)
		}
	}
	for i, m := range methods {
		for _, p := range append(paramsFuzzSeeds[m], `{}`, `null`, `[]`, `"x"`, `{"dc":"elsewhere"}`, `{"timeout":"1h"}`, `{"bogus":1}`) {
			f.Add(uint16(i), []byte(p))
		}
	}
	f.Fuzz(func(t *testing.T, which uint16, params []byte) {
		if !json.Valid(params) {
			return
		}
		method := methods[int(which)%len(methods)]
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": json.RawMessage(params)})
		// A blocking read or a write may wait: the deadline bounds it
		// (and answers -32001); the params were decoded and checked
		// before.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		resp := api.Handle(ctx, body)
		var ans struct {
			Result json.RawMessage `json:"result"`
			Error  *rpc.Error      `json:"error"`
		}
		if err := json.Unmarshal(resp, &ans); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON: %v", method, params, resp, err)
		}
		if ans.Error == nil {
			if ans.Result == nil {
				t.Fatalf("%s %s: answer %s has neither result nor error", method, params, resp)
			}
			return
		}
		switch ans.Error.Code {
		case rpc.CodeInvalidParams:
			if !namesAField.MatchString(ans.Error.Message) {
				t.Fatalf("%s %s: invalid params error names no field: %q", method, params, ans.Error.Message)
			}
		case rpc.CodeNoLeader, rpc.CodeTimeout, rpc.CodeUnknownDC, rpc.CodeUnavailable, rpc.CodeTooLarge, rpc.CodeNotFound:
		default:
			t.Fatalf("%s %s: error %d %q", method, params, ans.Error.Code, trimMsg(ans.Error.Message))
		}
	})
}

func trimMsg(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
