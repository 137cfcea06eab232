package rpc

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// This file routes calls between datacenters. Every method whose params
// have a "dc" member (ReadOptions and WriteOptions carry one) reads or
// writes one datacenter's data. When ServerConfig.RemoteDC is set, such a
// call naming another datacenter than ServerConfig.DC is passed to it
// whole, before its params are decoded; the remote server handles it as a
// local call. A call is forwarded across datacenters at most once: the
// forwarding server marks the request with ForwardedHeader, and a server
// that receives a marked call for a datacenter other than its own refuses
// it instead of passing it on.

// ForwardedHeader marks a request forwarded from another datacenter; its
// value is the datacenter it came from.
const ForwardedHeader = "Meridian-Forwarded-From"

// MethodDCList lists the known datacenters.
const MethodDCList = "dc.list"

// DCListParams of dc.list.
type DCListParams struct{}

// DCListResult of dc.list: the datacenters, nearest first.
type DCListResult struct {
	DCs []DCInfo `json:"dcs"`
}

// DCInfo is one datacenter as a server sees it through the WAN pool.
type DCInfo struct {
	Name string `json:"name"`
	// Local is true for the datacenter of the server answering.
	Local bool `json:"local,omitempty"`
	// Servers and LiveServers count the datacenter's servers in the WAN pool.
	Servers     int `json:"servers"`
	LiveServers int `json:"live_servers"`
	// RTTMS is the median round-trip time to its live servers in ms, as
	// the WAN pool's probes measure it; 0 for the local datacenter, absent
	// when not measured yet.
	RTTMS *float64 `json:"rtt_ms,omitempty"`
}

type forwardedKey struct{}

// WithForwarded marks ctx as serving a call forwarded from datacenter dc.
func WithForwarded(ctx context.Context, dc string) context.Context {
	return context.WithValue(ctx, forwardedKey{}, dc)
}

// ForwardedFrom returns the datacenter a call being served was forwarded
// from, "" for a call from a client.
func ForwardedFrom(ctx context.Context) string {
	dc, _ := ctx.Value(forwardedKey{}).(string)
	return dc
}

// takesDC reports whether params of type pt have a "dc" member.
func takesDC(pt reflect.Type) bool {
	for _, f := range reflect.VisibleFields(pt) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "dc" {
			return true
		}
	}
	return false
}

// paramsDC returns the "dc" member of raw params when it is a string, ""
// otherwise (a wrong type is reported by the method's own decoding).
func paramsDC(params []byte) string {
	if len(params) == 0 || params[0] != '{' {
		return ""
	}
	for k, v := range members(params) {
		if string(k) == "dc" && len(v) > 0 && v[0] == '"' {
			return unquote(v)
		}
	}
	return ""
}

// remoteDC returns the datacenter req is for when that is not this
// server's and the call should leave, "" when it is served here.
func (s *Server) remoteDC(req *request) string {
	if s.cfg.RemoteDC == nil || !req.m.takesDC {
		return ""
	}
	dc := paramsDC(req.params)
	if dc == "" || dc == s.cfg.DC {
		return ""
	}
	return dc
}

// forwardDC sends req to datacenter dc, or refuses a second hop.
func (s *Server) forwardDC(ctx context.Context, dc string, req *request, out *buffer) {
	var resp []byte
	var err error
	if from := ForwardedFrom(ctx); from != "" {
		err = fmt.Errorf("%w: %q: this server is in %q and the call was already forwarded from %q; calls cross datacenters at most once",
			ErrUnknownDC, dc, s.cfg.DC, from)
	} else {
		resp, err = s.cfg.RemoteDC(ctx, dc, req.raw)
	}
	writeForwarded(out, req, resp, err)
}
