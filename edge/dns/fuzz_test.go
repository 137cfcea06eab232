package dns

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

// fakeCatalog is a fake of the Meridian servers for tests that need no
// cluster (the fuzz target, the goroutine check): it answers
// catalog.services, catalog.nodes and health.service from a fixed
// catalog, only for the local datacenter, and holds blocking queries until
// their wait ends, since nothing ever changes.
type fakeCatalog struct {
	instances []rpc.ServiceInstance
}

func newFakeCatalog() *fakeCatalog {
	c := &fakeCatalog{}
	pass := []rpc.Check{{ID: "serfHealth", Status: rpc.HealthPassing}}
	for i := range 10 {
		inst := rpc.ServiceInstance{
			Node:    rpc.Node{Node: fmt.Sprintf("node-%d", i), Address: fmt.Sprintf("10.0.0.%d", i+1), Meta: map[string]string{"rack": "r1"}},
			Service: rpc.Service{ID: "web", Name: "web", Port: 8080 + i, Tags: []string{"v1"}},
			Checks:  pass,
		}
		switch i {
		case 7:
			inst.Service.Address = "fd00::7"
		case 8:
			inst.Service.Address = "web.example.com"
		case 9:
			inst.Checks = []rpc.Check{{ID: "svc", Status: rpc.HealthCritical}}
		}
		c.instances = append(c.instances, inst)
	}
	return c
}

func (c *fakeCatalog) Forward(ctx context.Context, body []byte) ([]byte, error) {
	var call struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name  string       `json:"name"`
			Tag   string       `json:"tag"`
			DC    string       `json:"dc"`
			Index uint64       `json:"index"`
			Wait  rpc.Duration `json:"wait"`
		} `json:"params"`
	}
	if err := json.Unmarshal(body, &call); err != nil {
		return nil, err
	}
	answer := func(result any, err *rpc.Error) ([]byte, error) {
		return json.Marshal(map[string]any{"jsonrpc": "2.0", "id": call.ID, "result": result, "error": err})
	}
	if call.Params.DC != "" {
		return answer(nil, &rpc.Error{Code: rpc.CodeUnknownDC, Message: "unknown datacenter"})
	}
	if call.Params.Index > 0 {
		t := time.NewTimer(call.Params.Wait.Std())
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	meta := rpc.ReadMeta{Index: 1}
	switch call.Method {
	case rpc.MethodCatalogServices:
		return answer(rpc.CatalogServicesResult{Services: map[string][]string{"web": {"v1"}}, ReadMeta: meta}, nil)
	case rpc.MethodCatalogNodes:
		var nodes []rpc.Node
		for _, inst := range c.instances {
			nodes = append(nodes, inst.Node)
		}
		return answer(rpc.CatalogNodesResult{Nodes: nodes, ReadMeta: meta}, nil)
	case rpc.MethodHealthService:
		var out []rpc.ServiceInstance
		if call.Params.Name == "web" && (call.Params.Tag == "" || call.Params.Tag == "v1") {
			out = c.instances
		}
		return answer(rpc.HealthServiceResult{Instances: out, ReadMeta: meta}, nil)
	}
	return answer(nil, &rpc.Error{Code: rpc.CodeMethodNotFound, Message: call.Method})
}

// fuzzSeeds are the messages the corpus in testdata/fuzz/FuzzHandle
// starts from.
func fuzzSeeds() [][]byte {
	q := func(name string, qtype uint16, edit func(*mdns.Msg)) []byte {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		if edit != nil {
			edit(m)
		}
		b, _ := m.Pack()
		return b
	}
	edns := func(size uint16) func(*mdns.Msg) { return func(m *mdns.Msg) { m.SetEdns0(size, false) } }
	return [][]byte{
		q("web.service.meridian.", mdns.TypeA, nil),
		q("web.service.meridian.", mdns.TypeSRV, nil),
		q("_web._tcp.service.dc1.meridian.", mdns.TypeSRV, edns(4096)),
		q("V1.Web.Service.Meridian.", mdns.TypeANY, edns(100)),
		q("node-1.node.meridian.", mdns.TypeTXT, nil),
		q("0a000001.addr.dc1.meridian.", mdns.TypeA, nil),
		q("web.service.dc2.meridian.", mdns.TypeAAAA, nil),
		q("meridian.", mdns.TypeSOA, nil),
		q("example.com.", mdns.TypeA, nil),
		q("web.service.meridian.", mdns.TypeA, func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS }),
		q("web.service.meridian.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(512, true); m.IsEdns0().SetVersion(1) }),
		q("web.service.meridian.", mdns.TypeA, func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) }),
		q("web.service.meridian.", mdns.TypeA, func(m *mdns.Msg) { m.Opcode = mdns.OpcodeUpdate }),
		{0xde, 0xad, 0xbe, 0xef},
	}
}

// FuzzHandle feeds arbitrary bytes, as a DNS message, to the query
// handler (no network; the servers are fakeCatalog). Whatever miekg/dns
// can parse must get an answer that packs, fits the client's size over UDP
// and matches the query's ID; nothing may panic.
func FuzzHandle(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	cfg := DefaultConfig()
	cfg.Servers = newFakeCatalog()
	cfg.FetchTimeout = time.Second
	srv, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(mdns.Msg)
		if err := req.Unpack(b); err != nil {
			return // miekg/dns's server answers FORMERR or drops it (TestMalformedAndUnusual)
		}
		for _, tcp := range []bool{false, true} {
			resp, size := srv.handle(req.Copy(), tcp)
			if resp == nil {
				if !req.Response {
					t.Fatalf("no answer to a query")
				}
				continue
			}
			wire, err := srv.pack(resp, size, nil)
			if err != nil {
				t.Fatalf("the answer does not pack: %v\n%v", err, resp)
			}
			if err := new(mdns.Msg).Unpack(wire); err != nil {
				t.Fatalf("the answer does not unpack: %v", err)
			}
			limit := mdns.MaxMsgSize
			if !tcp {
				limit = mdns.MinMsgSize
				if opt := req.IsEdns0(); opt != nil {
					limit = max(limit, int(opt.UDPSize()))
				}
			}
			if len(wire) > limit {
				t.Fatalf("answer of %d bytes over %d (tcp=%v)", len(wire), limit, tcp)
			}
			if resp.Id != req.Id || !resp.Response {
				t.Fatalf("answer id %d response=%v, want id %d", resp.Id, resp.Response, req.Id)
			}
		}
	})
}
