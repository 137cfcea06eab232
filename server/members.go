package server

import (
	"context"
	"errors"
	"net"

	"meridian/rpc"
	"meridian/server/catalog"
	"meridian/server/shard"
)

// Member is a node as the LAN gossip pool sees it. The server learns
// members through this type, so it does not depend on the gossip package;
// cmd wires the two.
type Member struct {
	Name string
	Addr string // gossip host:port; the host becomes the node's address
	// Status is MemberAlive, MemberFailed or MemberLeft.
	Status string
}

// Member statuses.
const (
	MemberAlive  = "alive"
	MemberFailed = "failed"
	MemberLeft   = "left"
)

// Reconcile brings the catalog's gossip node checks in line with the
// members: an alive member's node is registered and its check passing, a
// failed member's check critical (its services leave discovery), a member
// that left is deregistered. Nodes that carry a gossip check but that
// gossip no longer knows are set critical. Only the system shard's leader
// acts; elsewhere Reconcile does nothing, so every server may call it on
// every gossip event. It writes only what differs.
func (s *Server) Reconcile(ctx context.Context, members []Member) error {
	if !s.IsSystemLeader() {
		return nil
	}
	v, err := s.raft.StaleRead(shard.System)
	if err != nil {
		return err
	}
	view := v.(*catalog.View)
	known := map[string]bool{}
	var errs []error
	for _, m := range members {
		known[m.Name] = true
		node, status := nodeCheck(view, m.Name)
		switch m.Status {
		case MemberAlive:
			if node == nil || status != rpc.HealthPassing {
				errs = append(errs, s.NodeAlive(ctx, m.Name, hostOf(m.Addr)))
			}
		case MemberFailed:
			if node != nil && status != rpc.HealthCritical {
				errs = append(errs, s.NodeFailed(ctx, m.Name))
			}
		case MemberLeft:
			if node != nil {
				errs = append(errs, s.NodeLeft(ctx, m.Name))
			}
		}
	}
	nodes, _, _ := view.Nodes()
	for _, n := range nodes {
		if known[n.Node] {
			continue
		}
		if _, status := nodeCheck(view, n.Node); status != "" && status != rpc.HealthCritical {
			errs = append(errs, s.NodeFailed(ctx, n.Node))
		}
	}
	return errors.Join(errs...)
}

// nodeCheck returns a node and the status of its gossip check ("" when it
// has none).
func nodeCheck(v *catalog.View, name string) (*rpc.Node, string) {
	node, _, _, _ := v.Node(name)
	if node == nil {
		return nil, ""
	}
	checks, _, _ := v.NodeChecks(name)
	for _, c := range checks {
		if c.ID == rpc.NodeCheckID {
			return node, c.Status
		}
	}
	return node, ""
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
