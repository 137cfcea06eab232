package main

import (
	"context"
	"log/slog"
	"net"
	"sort"
	"sync"

	"meridian/edge/gossip"
	"meridian/rpc"
	"meridian/server"
)

// lan wraps the node's LAN gossip pool with what the rest of the process
// needs from it: the live servers of the datacenter, the members with
// their last known status (gossip forgets dead members after a while; we
// remember them for the catalog's node checks), and a signal on change.
type lan struct {
	pool *gossip.Pool
	dc   string
	meta gossip.Meta
	memberTable
	changed chan struct{} // capacity 1: "something changed"
}

// memberTable keeps each member of a pool in its last known state, dead
// and left ones included (gossip forgets them after a while).
type memberTable struct {
	log     *slog.Logger // member events at info, as Consul logs serf's
	mu      sync.Mutex
	members map[string]gossip.Member
}

// record notes the member's state after event e.
func (t *memberTable) record(e gossip.Event) {
	m := e.Member
	switch e.Kind {
	case gossip.EventLeave:
		m.State = gossip.StateLeft
	case gossip.EventFailed:
		m.State = gossip.StateDead
	}
	if t.log != nil {
		level := slog.LevelInfo
		if e.Kind == gossip.EventUpdate {
			level = slog.LevelDebug
		}
		t.log.Log(context.Background(), level, "member "+e.Kind.String(), "member", m.Name, "addr", m.Addr,
			"role", string(m.Meta.Role), "dc", m.Meta.DC)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.members == nil {
		t.members = map[string]gossip.Member{}
	}
	t.members[m.Name] = m
}

// snapshot lists the members by name.
func (t *memberTable) snapshot() []gossip.Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]gossip.Member, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// rpcMembers lists the table for agent.members.
func (t *memberTable) rpcMembers() []rpc.Member {
	var out []rpc.Member
	for _, m := range t.snapshot() {
		out = append(out, rpc.Member{Name: m.Name, Addr: m.Addr, Role: string(m.Meta.Role), DC: m.Meta.DC,
			Status: string(m.State), RPCAddr: m.Meta.RPCAddr})
	}
	return out
}

func startLAN(cfg gossip.Config, log *slog.Logger) (*lan, error) {
	l := &lan{dc: cfg.Meta.DC, meta: cfg.Meta, changed: make(chan struct{}, 1)}
	cfg.Events = l.event
	cfg.Logger = log.With("component", "gossip")
	l.log = cfg.Logger
	cfg.Label = "meridian-lan-" + cfg.Meta.DC
	p, err := gossip.New(cfg)
	if err != nil {
		return nil, err
	}
	l.pool = p
	return l, nil
}

func (l *lan) event(e gossip.Event) {
	l.record(e)
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// servers returns the RPC addresses of the live, ready servers of our
// datacenter (those whose shards run).
func (l *lan) servers() []string {
	var out []string
	for _, m := range l.snapshot() {
		if m.Meta.Role == gossip.RoleServer && m.Meta.DC == l.dc && m.Meta.RPCAddr != "" &&
			m.Meta.Tags[readyTag] == "1" && (m.State == gossip.StateAlive || m.State == gossip.StateSuspect) {
			out = append(out, m.Meta.RPCAddr)
		}
	}
	return out
}

// serverMembers is the pool as server.Reconcile takes it.
func (l *lan) serverMembers() []server.Member {
	var out []server.Member
	for _, m := range l.snapshot() {
		if m.Meta.DC != l.dc {
			continue
		}
		st := server.MemberAlive
		switch m.State {
		case gossip.StateDead:
			st = server.MemberFailed
		case gossip.StateLeft:
			st = server.MemberLeft
		}
		out = append(out, server.Member{Name: m.Name, Addr: m.Addr, Status: st})
	}
	return out
}

// host is the IP part of an address, for the catalog.
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// readyTag marks a server whose shards are running: new servers join the
// datacenter through it.
const readyTag = "ready"

// setReady gossips that this server's shards are running.
func (l *lan) setReady(ctx context.Context) {
	m := l.meta
	m.Tags = map[string]string{readyTag: "1"}
	if err := l.pool.UpdateMeta(ctx, m); err == nil {
		l.meta = m
	}
}

// formation returns the RPC addresses of the ready servers of our
// datacenter, and the servers not ready yet that expect the same count,
// sorted by name, as peers for a new datacenter.
func (l *lan) formation(expect int) (ready []string, candidates []rpc.Peer) {
	for _, m := range l.snapshot() {
		if m.Meta.Role != gossip.RoleServer || m.Meta.DC != l.dc || m.State != gossip.StateAlive {
			continue
		}
		if m.Meta.Tags[readyTag] == "1" && m.Meta.RPCAddr != "" {
			ready = append(ready, m.Meta.RPCAddr)
		} else if expect > 0 && m.Meta.Expect == expect && m.Meta.RaftAddr != "" {
			candidates = append(candidates, rpc.Peer{Node: m.Name, RaftAddr: m.Meta.RaftAddr})
		}
	}
	return ready, candidates
}

// serverName names the server at a Raft address, "" if unknown.
func (l *lan) serverName(raftAddr string) string { return l.byRaftAddr(raftAddr).Name }

// serverRPC is the JSON-RPC address of the server at a Raft address.
func (l *lan) serverRPC(raftAddr string) string { return l.byRaftAddr(raftAddr).Meta.RPCAddr }

func (l *lan) byRaftAddr(raftAddr string) gossip.Member {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.members {
		if m.Meta.RaftAddr == raftAddr {
			return m
		}
	}
	return gossip.Member{}
}
