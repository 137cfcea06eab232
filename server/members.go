package server

import (
	"context"
	"errors"
	"net"
	"time"

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
// that left is deregistered. A node whose gossip check passes but that
// gossip does not know is set critical once it has been unknown for
// Config.UnknownNodeGrace: gossip forgot it, or its join never reached
// this server (then memberlist ignores its death as well). Only the system
// shard's leader acts; elsewhere Reconcile does nothing, so every server
// may call it on every gossip event and now and then. It writes only what
// differs.
func (s *Server) Reconcile(ctx context.Context, members []Member) error {
	if !s.IsSystemLeader() {
		// A leader to come starts its own grace: its pool may know
		// more than ours.
		s.unknownMu.Lock()
		s.unknown = nil
		s.unknownMu.Unlock()
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
	errs = append(errs, s.failUnknown(ctx, view, nodes, known))
	return errors.Join(errs...)
}

// failUnknown sets critical the gossip checks of nodes that gossip has not
// known for the grace period, and forgets the nodes that became known or
// critical.
func (s *Server) failUnknown(ctx context.Context, view *catalog.View, nodes []rpc.Node, known map[string]bool) error {
	now := s.now()
	s.unknownMu.Lock()
	defer s.unknownMu.Unlock()
	pending := map[string]time.Time{}
	var errs []error
	for _, n := range nodes {
		if known[n.Node] {
			continue
		}
		if _, status := nodeCheck(view, n.Node); status == "" || status == rpc.HealthCritical {
			continue
		}
		since, ok := s.unknown[n.Node]
		if !ok {
			since = now
		}
		if now.Sub(since) < s.cfg.UnknownNodeGrace {
			pending[n.Node] = since
			continue
		}
		s.log.Info("gossip does not know node; setting its gossip check critical", "node", n.Node, "unknown_for", now.Sub(since).Round(time.Second))
		if err := s.NodeFailed(ctx, n.Node); err != nil {
			pending[n.Node] = since // try again on the next call
			errs = append(errs, err)
		}
	}
	s.unknown = pending
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
