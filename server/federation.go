package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"meridian/rpc"
)

// WANServer is a server of some datacenter as the WAN gossip pool sees
// it. The server learns the pool through this type; cmd wires the two.
type WANServer struct {
	Name    string
	DC      string
	RPCAddr string // host:port of its JSON-RPC
	Alive   bool
	// RTT is the round trip of this server's probes of it; 0 when not
	// measured yet.
	RTT time.Duration
}

// Federation sends calls for other datacenters to their servers and
// answers dc.list. Set it as rpc.ServerConfig.RemoteDC (Forward) and feed
// it the WAN pool with Update. Safe for concurrent use.
type Federation struct {
	dc  string
	log *slog.Logger

	mu      sync.Mutex
	servers []WANServer          // as last given
	remote  map[string]*remoteDC // live servers of each other datacenter
	closed  bool
}

// remoteDC is a client to the live servers of one other datacenter.
type remoteDC struct {
	addrs  []string // sorted: the set, to tell a change
	client *rpc.Client
}

// NewFederation returns a Federation for a server of datacenter dc that
// knows no other datacenter yet.
func NewFederation(dc string, log *slog.Logger) *Federation {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Federation{dc: dc, log: log, remote: map[string]*remoteDC{}}
}

// Update replaces the WAN pool's view: every server of every datacenter,
// this one's included.
func (f *Federation) Update(servers []WANServer) {
	live := map[string][]string{}
	for _, s := range servers {
		if s.DC != f.dc && s.Alive && s.RPCAddr != "" {
			live[s.DC] = append(live[s.DC], s.RPCAddr)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.servers = slices.Clone(servers)
	for dc, r := range f.remote {
		if _, ok := live[dc]; !ok {
			r.client.Close()
			delete(f.remote, dc)
		}
	}
	for dc, addrs := range live {
		slices.Sort(addrs)
		r := f.remote[dc]
		if r != nil && slices.Equal(r.addrs, addrs) {
			continue
		}
		// Each server tries the remote servers in its own random order,
		// so the servers of a datacenter spread their calls, and moves to
		// the next on a connection error.
		order := slices.Clone(addrs)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if r != nil {
			if err := r.client.SetAddrs(order); err == nil {
				r.addrs = addrs
				continue
			}
			r.client.Close()
		}
		c, err := rpc.NewClient(rpc.ClientConfig{Addrs: order, Header: http.Header{rpc.ForwardedHeader: {f.dc}}})
		if err != nil {
			f.log.Warn("datacenter servers", "dc", dc, "addrs", addrs, "err", err)
			delete(f.remote, dc)
			continue
		}
		f.remote[dc] = &remoteDC{addrs: addrs, client: c}
	}
}

// Forward sends a JSON-RPC request object for datacenter dc to one of its
// live servers, another on a connection error, and returns the answer as
// is. It is rpc.ServerConfig.RemoteDC. An unknown datacenter, or one with
// no live server, fails at once with rpc.ErrUnknownDC; the wait for an
// answer is bounded by the call's own timeout (and wait, for a blocking
// read), as the remote server applies them, plus a margin.
func (f *Federation) Forward(ctx context.Context, dc string, request []byte) ([]byte, error) {
	client, _, err := f.remoteOf(dc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, forwardBound(request))
	defer cancel()
	answer, err := client.Forward(ctx, request)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: datacenter %q did not answer in time: %v", rpc.ErrTimeout, dc, err)
		}
		return nil, fmt.Errorf("%w: %q: no server of that datacenter answered: %v", rpc.ErrDCUnreachable, dc, err)
	}
	return answer, nil
}

// ModuleUpload wraps a server's PUT /v1/modules, local, so that an upload
// whose ?dc= names another datacenter is streamed to one of that
// datacenter's live servers, as a call with "dc" is forwarded: at most
// one hop, marked with rpc.ForwardedHeader, the module never held here.
func (f *Federation) ModuleUpload(local http.Handler, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		dc := q.Get("dc")
		if dc == "" || dc == f.dc {
			local.ServeHTTP(w, r)
			return
		}
		if !rpc.CheckUpload(w, r, maxBytes) {
			return
		}
		if from := r.Header.Get(rpc.ForwardedHeader); from != "" {
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("%w: %q: this server is in %q and the upload was already forwarded from %q; calls cross datacenters at most once",
				rpc.ErrUnknownDC, dc, f.dc, from)))
			return
		}
		_, addrs, err := f.remoteOf(dc)
		if err != nil {
			rpc.WriteUploadError(w, rpc.ToError(err))
			return
		}
		q.Del("dc")
		addr := addrs[rand.IntN(len(addrs))]
		if err := rpc.ForwardUpload(w, r, addr, q.Encode(), http.Header{rpc.ForwardedHeader: {f.dc}}, maxBytes); err != nil {
			rpc.WriteUploadError(w, rpc.ToError(fmt.Errorf("%w: %q: upload to its server %s: %v", rpc.ErrDCUnreachable, dc, addr, err)))
		}
	})
}

// remoteOf returns the client to dc's live servers and their addresses,
// or the error a call for dc fails with: an unknown datacenter, or one
// with no live server.
func (f *Federation) remoteOf(dc string) (*rpc.Client, []string, error) {
	f.mu.Lock()
	r := f.remote[dc]
	known := f.knownLocked(dc)
	var addrs []string
	if r != nil {
		addrs = slices.Clone(r.addrs)
	}
	f.mu.Unlock()
	switch {
	case r == nil && !known:
		return nil, nil, fmt.Errorf("%w: %q: no such datacenter in the WAN pool (known: %s)", rpc.ErrUnknownDC, dc, strings.Join(f.names(), ", "))
	case r == nil:
		return nil, nil, fmt.Errorf("%w: %q: no live server of that datacenter in the WAN pool", rpc.ErrDCUnreachable, dc)
	}
	return r.client, addrs, nil
}

// forwardMargin is added to a forwarded call's own bounds for the hops
// there and back.
const forwardMargin = 2 * time.Second

// forwardBound is how long to wait for a forwarded call's answer: its
// timeout param (defaulted as a server does, DefaultConfig), plus how long
// a server may hold it as a blocking read (rpc.ReadOptions.Hold), plus a
// margin for the trip.
func forwardBound(request []byte) time.Duration {
	var env struct {
		Params rpc.ReadOptions `json:"params"`
	}
	_ = json.Unmarshal(request, &env) // a bad param is the remote's to report
	d := cmp.Or(env.Params.Timeout.Std(), DefaultConfig().DefaultTimeout)
	if d < 0 {
		d = DefaultConfig().DefaultTimeout
	}
	return d + env.Params.Hold() + forwardMargin
}

// knownLocked reports whether the WAN pool has ever shown a server of dc.
func (f *Federation) knownLocked(dc string) bool {
	for _, s := range f.servers {
		if s.DC == dc {
			return true
		}
	}
	return false
}

// names lists the known datacenters by name.
func (f *Federation) names() []string {
	var out []string
	for _, d := range f.List() {
		out = append(out, d.Name)
	}
	return out
}

// List returns the known datacenters: this one first, then the others by
// the median round trip to their live servers (unmeasured ones last), then
// by name.
func (f *Federation) List() []rpc.DCInfo {
	f.mu.Lock()
	servers := slices.Clone(f.servers)
	f.mu.Unlock()
	type acc struct {
		info rpc.DCInfo
		rtts []time.Duration
	}
	byDC := map[string]*acc{f.dc: {info: rpc.DCInfo{Name: f.dc, Local: true}}}
	for _, s := range servers {
		a := byDC[s.DC]
		if a == nil {
			a = &acc{info: rpc.DCInfo{Name: s.DC}}
			byDC[s.DC] = a
		}
		a.info.Servers++
		if s.Alive {
			a.info.LiveServers++
			if s.RTT > 0 {
				a.rtts = append(a.rtts, s.RTT)
			}
		}
	}
	out := make([]rpc.DCInfo, 0, len(byDC))
	for _, a := range byDC {
		switch {
		case a.info.Local:
			// This server is one, even outside a WAN pool (dev).
			a.info.Servers, a.info.LiveServers = max(a.info.Servers, 1), max(a.info.LiveServers, 1)
			zero := 0.0
			a.info.RTTMS = &zero
		case len(a.rtts) > 0:
			slices.Sort(a.rtts)
			ms := float64(a.rtts[len(a.rtts)/2].Microseconds()) / 1000
			a.info.RTTMS = &ms
		}
		out = append(out, a.info)
	}
	slices.SortFunc(out, func(a, b rpc.DCInfo) int {
		if a.Local != b.Local {
			if a.Local {
				return -1
			}
			return 1
		}
		if (a.RTTMS == nil) != (b.RTTMS == nil) {
			if a.RTTMS != nil {
				return -1
			}
			return 1
		}
		if a.RTTMS != nil {
			if c := cmp.Compare(*a.RTTMS, *b.RTTMS); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Register adds dc.list to api.
func (f *Federation) Register(api *rpc.Server) {
	rpc.Register(api, rpc.MethodDCList, "The known datacenters, this one first, then nearest first by the WAN pool's round-trip times.",
		func(context.Context, *rpc.DCListParams) (*rpc.DCListResult, error) {
			return &rpc.DCListResult{DCs: f.List()}, nil
		})
}

// Close releases the clients' connections; Forward then knows no
// datacenter.
func (f *Federation) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for dc, r := range f.remote {
		r.client.Close()
		delete(f.remote, dc)
	}
}
