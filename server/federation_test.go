package server_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"meridian/rpc"
	"meridian/server"
)

type whereParams struct {
	rpc.ReadOptions
}

type whereResult struct {
	DC       string `json:"dc"`
	Forwards string `json:"forwarded_from"`
}

type plainParams struct{}

// dcServer is one datacenter's JSON-RPC front on loopback with a
// Federation: where answers with the datacenter that served it, plain
// (no dc param) is never forwarded.
type dcServer struct {
	fed  *server.Federation
	http *httptest.Server
}

func startDC(t *testing.T, dc string) *dcServer {
	t.Helper()
	fed := server.NewFederation(dc, nil)
	t.Cleanup(fed.Close)
	cfg := rpc.DefaultServerConfig()
	cfg.DC, cfg.RemoteDC = dc, fed.Forward
	api := rpc.NewServer(cfg)
	rpc.Register(api, "test.where", "", func(ctx context.Context, p *whereParams) (*whereResult, error) {
		return &whereResult{DC: dc, Forwards: rpc.ForwardedFrom(ctx)}, nil
	})
	rpc.Register(api, "test.plain", "", func(context.Context, *plainParams) (*whereResult, error) {
		return &whereResult{DC: dc}, nil
	})
	fed.Register(api)
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	return &dcServer{fed: fed, http: hs}
}

func (d *dcServer) addr() string { return strings.TrimPrefix(d.http.URL, "http://") }

func client(t *testing.T, d *dcServer) *rpc.Client {
	c, err := rpc.NewClient(rpc.ClientConfig{Addrs: []string{d.addr()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestFederationForward: a call naming another datacenter is served
// there (and says it was forwarded), a call for this one or none is
// served here, a method without a dc param never leaves; unknown
// datacenters and datacenters without a reachable server fail at once
// with the datacenter error naming them; a forwarded call is never
// forwarded again.
func TestFederationForward(t *testing.T) {
	dc1, dc2 := startDC(t, "dc1"), startDC(t, "dc2")
	gone := startDC(t, "dc4")
	goneAddr := gone.addr()
	gone.http.Close()
	dc1.fed.Update([]server.WANServer{
		{Name: "a.dc1", DC: "dc1", RPCAddr: dc1.addr(), Alive: true},
		{Name: "b.dc2", DC: "dc2", RPCAddr: dc2.addr(), Alive: true},
		// dc3 points at dc2's server, as a misconfigured pool might: dc2
		// must not pass the call on.
		{Name: "c.dc3", DC: "dc3", RPCAddr: dc2.addr(), Alive: true},
		{Name: "d.dc4", DC: "dc4", RPCAddr: goneAddr, Alive: true},
		{Name: "e.dc5", DC: "dc5", RPCAddr: "127.0.0.1:1", Alive: false},
	})
	dc2.fed.Update([]server.WANServer{{Name: "c.dc3", DC: "dc3", RPCAddr: dc1.addr(), Alive: true}})
	c := client(t, dc1)
	ctx := context.Background()

	where := func(dc string) (*whereResult, error) {
		var r whereResult
		err := c.Call(ctx, "test.where", whereParams{ReadOptions: rpc.ReadOptions{DC: dc}}, &r)
		return &r, err
	}
	for _, tc := range []struct{ dc, want, from string }{
		{"", "dc1", ""}, {"dc1", "dc1", ""}, {"dc2", "dc2", "dc1"},
	} {
		r, err := where(tc.dc)
		if err != nil || r.DC != tc.want || r.Forwards != tc.from {
			t.Errorf("test.where dc %q: %+v, %v; want served by %s, forwarded from %q", tc.dc, r, err, tc.want, tc.from)
		}
	}
	var plain whereResult
	if err := c.Call(ctx, "test.plain", map[string]any{}, &plain); err != nil || plain.DC != "dc1" {
		t.Errorf("test.plain: %+v, %v", plain, err)
	}

	for _, tc := range []struct {
		dc, want    string
		unreachable bool
	}{
		{"dc9", `"dc9": no such datacenter`, false},
		{"dc5", `"dc5": no live server`, true},
		{"dc4", `"dc4": no server of that datacenter answered`, true},
		{"dc3", "at most once", false},
	} {
		start := time.Now()
		_, err := where(tc.dc)
		var re *rpc.Error
		if !errors.As(err, &re) || re.Code != rpc.CodeUnknownDC || !strings.Contains(re.Message, tc.want) {
			t.Errorf("test.where dc %q: %v; want code %d saying %q", tc.dc, err, rpc.CodeUnknownDC, tc.want)
		}
		if got := errors.Is(err, rpc.ErrDCUnreachable); got != tc.unreachable || !errors.Is(err, rpc.ErrUnknownDC) {
			t.Errorf("test.where dc %q: unreachable %v, want %v (data %+v)", tc.dc, got, tc.unreachable, re.Data)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("test.where dc %q took %v to fail", tc.dc, d)
		}
	}
}

// TestFederationList: this datacenter first, then by median round trip,
// unmeasured last, with server counts.
func TestFederationList(t *testing.T) {
	f := server.NewFederation("dc1", nil)
	defer f.Close()
	ms := time.Millisecond
	f.Update([]server.WANServer{
		{Name: "a.dc1", DC: "dc1", RPCAddr: "127.0.0.1:1", Alive: true},
		{Name: "a.far", DC: "far", RPCAddr: "127.0.0.1:2", Alive: true, RTT: 80 * ms},
		{Name: "b.far", DC: "far", RPCAddr: "127.0.0.1:3", Alive: true, RTT: 90 * ms},
		{Name: "c.far", DC: "far", RPCAddr: "127.0.0.1:4", Alive: false, RTT: 1 * ms},
		{Name: "a.near", DC: "near", RPCAddr: "127.0.0.1:5", Alive: true, RTT: 20 * ms},
		{Name: "a.new", DC: "new", RPCAddr: "127.0.0.1:6", Alive: true},
	})
	got := f.List()
	var names []string
	for _, d := range got {
		names = append(names, d.Name)
	}
	if strings.Join(names, " ") != "dc1 near far new" {
		t.Fatalf("order %v, want dc1 near far new", names)
	}
	if !got[0].Local || got[0].RTTMS == nil || *got[0].RTTMS != 0 {
		t.Errorf("local: %+v", got[0])
	}
	far := got[2]
	if far.Servers != 3 || far.LiveServers != 2 || far.RTTMS == nil || *far.RTTMS != 90 {
		t.Errorf("far: %+v (rtt %v); want 3 servers, 2 live, median of the live 90 ms", far, far.RTTMS)
	}
	if got[3].RTTMS != nil {
		t.Errorf("new: rtt %v before any probe", *got[3].RTTMS)
	}
}
