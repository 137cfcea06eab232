package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/integration/cluster"
	"meridian/integration/freeport"
	"meridian/rpc"
)

// twoDCs starts datacenters dc1 and dc2 of three servers each, federated
// over the WAN pool (dc2's servers join dc1's), and an edge in each; edge
// 0 of dc1 serves DNS on the returned address. It waits until every
// server of each sees the other datacenter's three servers alive.
func twoDCs(t testing.TB) (dc1, dc2 *cluster.Cluster, dnsAddr string) {
	dc1 = cluster.Start(t, cluster.Options{DC: "dc1"})
	dc2 = cluster.Start(t, cluster.Options{DC: "dc2", JoinWAN: []string{dc1.WANAddr(0)}})
	ports, err := freeport.Ports(1)
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	dc1.AddEdge("edge-1", "-dns-addr", dnsAddr)
	dc2.AddEdge("edge-2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, pair := range []struct {
		c     *cluster.Cluster
		other string
	}{{dc1, "dc2"}, {dc2, "dc1"}} {
		for i := range pair.c.N() {
			if err := waitDCLive(ctx, pair.c.Client(i), pair.other, 3); err != nil {
				t.Fatalf("%s server %d: %v", pair.c.DC(), i, err)
			}
		}
	}
	return dc1, dc2, dnsAddr
}

// waitDCLive waits until dc.list at c shows dc with live servers.
func waitDCLive(ctx context.Context, c *rpc.Client, dc string, live int) error {
	return cluster.Eventually(ctx, fmt.Sprintf("%s with %d live servers in dc.list", dc, live), func(ctx context.Context) error {
		var res rpc.DCListResult
		if err := c.Call(ctx, rpc.MethodDCList, nil, &res); err != nil {
			return err
		}
		for _, d := range res.DCs {
			if d.Name == dc {
				if d.LiveServers != live {
					return fmt.Errorf("%s: %d live servers", dc, d.LiveServers)
				}
				return nil
			}
		}
		return fmt.Errorf("dc.list: %+v", res.DCs)
	})
}

// TestMultiDC is issue 6's scenario: two datacenters, every call through
// dc1's edge. A key written in dc2 is read back in dc2 and is absent from
// dc1; a service of dc2 resolves over DNS at dc1's edge with ".dc2."; a
// blocking read of dc2 wakes on a write there; with every server of dc2
// stopped, calls for dc2 fail fast with the datacenter error while dc1
// keeps working; once they restart, dc2 answers again without restarting
// anything else.
func TestMultiDC(t *testing.T) {
	dc1, dc2, dnsAddr := twoDCs(t)
	e1, e2 := dc1.EdgeClient(0), dc2.EdgeClient(0)
	ctx := within(t, 3*time.Minute)

	// dc.list at dc1: dc1 first and local, dc2 measured.
	var dcs rpc.DCListResult
	if err := e1.Call(ctx, rpc.MethodDCList, nil, &dcs); err != nil {
		t.Fatal(err)
	}
	if len(dcs.DCs) != 2 || dcs.DCs[0].Name != "dc1" || !dcs.DCs[0].Local || dcs.DCs[1].Name != "dc2" || dcs.DCs[1].Servers != 3 {
		t.Fatalf("dc.list at dc1's edge: %+v", dcs.DCs)
	}
	for _, d := range dcs.DCs {
		rtt := "not measured yet"
		if d.RTTMS != nil {
			rtt = fmt.Sprintf("%.2f ms", *d.RTTMS)
		}
		t.Logf("dc.list at dc1's edge: %s: %d servers, %d live, rtt %s", d.Name, d.Servers, d.LiveServers, rtt)
	}
	var wanMembers rpc.AgentMembersResult
	if err := dc1.Client(0).Call(ctx, rpc.MethodAgentMembers, rpc.AgentMembersParams{WAN: true}, &wanMembers); err != nil || len(wanMembers.Members) != 6 {
		t.Fatalf("agent.members wan at a dc1 server: %+v, %v; want the 6 servers", wanMembers.Members, err)
	}

	// KV: written in dc2 through dc1's edge.
	put := rpc.KVPutParams{Key: "app/dc", Value: []byte("two"), WriteOptions: rpc.WriteOptions{DC: "dc2"}}
	var pr rpc.KVPutResult
	if err := e1.Call(ctx, rpc.MethodKVPut, put, &pr); err != nil || !pr.OK {
		t.Fatalf("kv.put dc2 through dc1's edge: %+v, %v", pr, err)
	}
	var got rpc.KVGetResult
	if err := e2.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/dc"}, &got); err != nil || got.Entry == nil || string(got.Entry.Value) != "two" {
		t.Fatalf("kv.get at dc2's edge: %+v, %v; want the value written through dc1", got.Entry, err)
	}
	if err := e1.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/dc"}, &got); err != nil || got.Entry != nil {
		t.Fatalf("kv.get in dc1: %+v, %v; want absent (nothing is replicated between datacenters)", got.Entry, err)
	}

	// The CLI's -dc, and `meridian dc`, through dc1's edge.
	edge1 := dc1.EdgeHTTPAddr(0)
	if out, errOut, code := cli(t, "", "", "kv", "get", "-http-addr", edge1, "-dc", "dc2", "app/dc"); code != 0 || out != "two\n" {
		t.Fatalf("meridian kv get -dc dc2: exit %d, %q, %q", code, out, errOut)
	}
	if out, errOut, code := cli(t, "", "", "kv", "get", "-http-addr", edge1, "-dc", "nowhere", "app/dc"); code != 1 || !strings.Contains(errOut, `"nowhere": no such datacenter`) {
		t.Fatalf("meridian kv get -dc nowhere: exit %d, %q, %q; want exit 1 naming the datacenter", code, out, errOut)
	}
	if out, errOut, code := cli(t, "", "", "dc", "-http-addr", edge1); code != 0 || !regexp.MustCompile(`(?s)^DC .*\ndc1 \(local\) +3 +3 .*\ndc2 +3 +3 `).MatchString(out) {
		t.Fatalf("meridian dc: exit %d, %q, %q", code, out, errOut)
	}
	// An edge is in no WAN pool: members -wan says so, a server lists both
	// datacenters' servers.
	if out, errOut, code := cli(t, "", "", "members", "-wan", "-http-addr", edge1); code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "only servers join the WAN pool") {
		t.Errorf("meridian members -wan at an edge: exit %d, %q, %q; want the header alone and a note that only servers join", code, out, errOut)
	}
	if out, errOut, code := cli(t, "", "", "members", "-wan", "-http-addr", dc1.HTTPAddr(0)); code != 0 || strings.Count(out, "alive") != 6 || errOut != "" {
		t.Errorf("meridian members -wan at a server: exit %d, %q, %q; want the 6 servers of both datacenters alive", code, out, errOut)
	}

	// A WASM module uploaded to dc2 through dc1's edge (PUT /v1/modules
	// ?dc=dc2, streamed edge -> dc1 server -> dc2 server): stored in dc2
	// only, as modules are per datacenter.
	wasmFile := "../wasm/examples/testdata/tcpconnect.wasm"
	if out, errOut, code := cli(t, "", "", "checks", "submit", "-http-addr", edge1, "-dc", "dc2", "-name", "tcp-connect", wasmFile); code != 0 || !strings.Contains(errOut, `name "tcp-connect"`) {
		t.Fatalf("meridian checks submit -dc dc2: exit %d, %q, %q", code, out, errOut)
	}
	if out, errOut, code := cli(t, "", "", "checks", "list", "-http-addr", edge1, "-dc", "dc2"); code != 0 || !strings.Contains(out, "tcp-connect") {
		t.Fatalf("meridian checks list -dc dc2: exit %d, %q, %q; want the module", code, out, errOut)
	}
	if out, errOut, code := cli(t, "", "", "checks", "list", "-http-addr", edge1); code != 0 || strings.Contains(out, "tcp-connect") {
		t.Fatalf("meridian checks list in dc1: exit %d, %q, %q; want no module (nothing is replicated between datacenters)", code, out, errOut)
	}
	if out, errOut, code := cli(t, "", "", "checks", "submit", "-http-addr", edge1, "-dc", "nowhere", wasmFile); code != 1 || !strings.Contains(errOut, `"nowhere": no such datacenter`) {
		t.Fatalf("meridian checks submit -dc nowhere: exit %d, %q, %q; want exit 1 naming the datacenter", code, out, errOut)
	}
	// A marked upload does not cross a second time.
	body, err := os.ReadFile(wasmFile)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+dc2.HTTPAddr(0)+rpc.ModulesPath+"?dc=dc1", bytes.NewReader(body))
	req.Header.Set(rpc.ForwardedHeader, "dc1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rpc.DecodeUploadAnswer(resp)
	resp.Body.Close()
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "at most once") {
		t.Fatalf("an upload forwarded twice: HTTP %s, %v; want 503 and \"at most once\"", resp.Status, err)
	}

	// A blocking read of dc2 through dc1 wakes on a write in dc2.
	if err := e1.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/dc", ReadOptions: rpc.ReadOptions{DC: "dc2"}}, &got); err != nil || got.Entry == nil {
		t.Fatalf("kv.get dc2 through dc1: %+v, %v", got.Entry, err)
	}
	woke := make(chan error, 1)
	go func() {
		var r rpc.KVGetResult
		err := e1.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/dc",
			ReadOptions: rpc.ReadOptions{DC: "dc2", Index: got.Index, Wait: rpc.Duration(time.Minute)}}, &r)
		if err == nil && (r.Entry == nil || string(r.Entry.Value) != "three") {
			err = fmt.Errorf("woke with %+v", r.Entry)
		}
		woke <- err
	}()
	// The write may land before the blocking read reaches dc2: it then
	// returns at once with the new value, which is as good.
	if err := e2.Call(ctx, rpc.MethodKVPut, rpc.KVPutParams{Key: "app/dc", Value: []byte("three")}, &pr); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-woke:
		if err != nil {
			t.Fatalf("blocking kv.get of dc2 through dc1: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("blocking kv.get of dc2 through dc1 did not wake within 30 s of the write")
	}

	// DNS at dc1's edge for a service of dc2.
	def := rpc.ServiceDefinition{Service: &rpc.Service{Name: "api", Port: 8080}}
	if err := e2.Call(ctx, rpc.MethodAgentServiceRegister, def, nil); err != nil {
		t.Fatal(err)
	}
	err = cluster.Eventually(ctx, "api.service.dc2 to resolve at dc1's edge", func(context.Context) error {
		r, err := dnsQuery(dnsAddr, "api.service.dc2.meridian.", mdns.TypeSRV)
		if err != nil {
			return err
		}
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
			return fmt.Errorf("rcode %s, %d answers", mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
		srv, ok := r.Answer[0].(*mdns.SRV)
		if !ok || srv.Port != 8080 || !strings.Contains(srv.Target, ".dc2.") {
			return fmt.Errorf("answer %v", r.Answer[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := dnsQuery(dnsAddr, "api.service.meridian.", mdns.TypeA); err != nil || r.Rcode != mdns.RcodeNameError {
		t.Fatalf("api.service (dc1) at dc1's edge: %v, %v; want NXDOMAIN: the service is dc2's", r, err)
	}
	if r, err := dnsQuery(dnsAddr, "api.service.dc7.meridian.", mdns.TypeA); err != nil || r.Rcode != mdns.RcodeNameError {
		t.Fatalf("an unknown datacenter over DNS: %v, %v; want NXDOMAIN", r, err)
	}

	// Every server of dc2 stopped: calls for dc2 fail fast, dc1 works.
	for i := range dc2.N() {
		dc2.Stop(i)
	}
	for range 3 {
		start := time.Now()
		err := e1.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/dc", ReadOptions: rpc.ReadOptions{DC: "dc2"}}, &got)
		var re *rpc.Error
		if !errors.As(err, &re) || re.Code != rpc.CodeUnknownDC || !strings.Contains(re.Message, `"dc2"`) {
			t.Fatalf("kv.get dc2 with dc2 down: %v; want code %d naming dc2", err, rpc.CodeUnknownDC)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("kv.get dc2 with dc2 down took %v to fail", d)
		}
	}
	if err := e1.Call(ctx, rpc.MethodKVPut, rpc.KVPutParams{Key: "app/one", Value: []byte("1")}, &pr); err != nil || !pr.OK {
		t.Fatalf("dc1 kv.put while dc2 is down: %v", err)
	}
	// DNS for dc2 at dc1's edge answers from its cache: dc2 is known,
	// only unreachable (never NXDOMAIN, which resolvers would cache).
	if r, err := dnsQuery(dnsAddr, "api.service.dc2.meridian.", mdns.TypeSRV); err != nil || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("api.service.dc2 with dc2 down: %v, %v; want the cached answer", r, err)
	}

	// dc2 back: reachable again through dc1, nothing else restarted.
	for i := range dc2.N() {
		dc2.Restart(i)
	}
	err = cluster.Eventually(ctx, "dc2 reachable through dc1's edge again", func(ctx context.Context) error {
		var r rpc.KVGetResult
		if err := e1.Call(ctx, rpc.MethodKVGet, rpc.KVGetParams{Key: "app/dc", ReadOptions: rpc.ReadOptions{DC: "dc2"}}, &r); err != nil {
			return err
		}
		if r.Entry == nil || string(r.Entry.Value) != "three" {
			return fmt.Errorf("entry %+v", r.Entry)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dnsQuery asks addr over UDP, once, with a deadline.
func dnsQuery(addr, name string, qtype uint16) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	c := &mdns.Client{Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}
