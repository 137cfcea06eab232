package main

import (
	"log/slog"
	"sync/atomic"
	"time"

	"meridian/edge/gossip"
	"meridian/server"
)

// wan is a server's membership in the WAN pool: the servers of every
// datacenter. It feeds the server's Federation (forwarding, dc.list) on
// every change and answers agent.members with wan set.
type wan struct {
	pool *gossip.Pool // set once gossip.New returns: events may come before
	fed  *server.Federation
	dc   string
	rtt  atomic.Pointer[gossip.Pool] // pool, for sync from the event goroutine

	memberTable
}

// WAN re-join intervals: Consul's retry-join-wan default, and a short one
// for loopback tests.
const (
	wanRejoin      = 30 * time.Second
	wanRejoinLocal = 3 * time.Second
)

// wanName is a server's name in the WAN pool, unique across datacenters.
func wanName(node, dc string) string { return node + "." + dc }

// startWAN joins the WAN pool as this server (-wan-addr, -join-wan).
func startWAN(f agentFlags, rpcAddr string, fed *server.Federation, log *slog.Logger) (*wan, error) {
	w := &wan{fed: fed, dc: f.dc}
	gc := gossip.DefaultConfig()
	gc.Name = wanName(f.node, f.dc)
	gc.BindAddr = f.wanAddr
	gc.Meta = gossip.Meta{Role: gossip.RoleServer, DC: f.dc, RPCAddr: rpcAddr, Version: version}
	gc.Profile, gc.Rejoin = gossip.ProfileWAN, wanRejoin
	if f.gossipProfile == gossip.ProfileLocal {
		gc.Profile, gc.Rejoin = gossip.ProfileLocal, wanRejoinLocal
	}
	gc.Join = f.joinWAN
	gc.Label = "meridian-wan"
	gc.Logger = log.With("component", "gossip-wan")
	gc.Events = w.event
	w.log = gc.Logger
	p, err := gossip.New(gc)
	if err != nil {
		return nil, err
	}
	w.pool = p
	w.rtt.Store(p)
	w.sync() // the events that came before the pool was ours
	return w, nil
}

func (w *wan) event(e gossip.Event) {
	w.record(e)
	w.sync()
}

// sync gives the Federation the pool as it is now, round trips included.
func (w *wan) sync() {
	var out []server.WANServer
	pool := w.rtt.Load() // nil while gossip.New runs
	for _, m := range w.snapshot() {
		if m.Meta.Role != gossip.RoleServer || m.Meta.DC == "" || m.State == gossip.StateLeft {
			continue
		}
		var rtt time.Duration
		if pool != nil {
			rtt, _ = pool.RTT(m.Name)
		}
		out = append(out, server.WANServer{Name: m.Name, DC: m.Meta.DC, RPCAddr: m.Meta.RPCAddr,
			Alive: m.State == gossip.StateAlive || m.State == gossip.StateSuspect, RTT: rtt})
	}
	w.fed.Update(out)
}
