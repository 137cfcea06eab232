package server

import (
	"context"
	"fmt"

	"meridian/rpc"
	"meridian/server/catalog"
	"meridian/server/shard"
)

func (s *Server) registerCatalog(api *rpc.Server) {
	rpc.Register(api, rpc.MethodCatalogRegister, "Register or update a node with services and checks; sync makes the node's services and checks exactly those given.", s.catalogRegister)
	rpc.Register(api, rpc.MethodCatalogDeregister, "Remove a node with everything on it, or one of its services (with its checks), or one check.", s.catalogDeregister)
	rpc.Register(api, rpc.MethodCatalogUpdateChecks, "Set the status and output of checks of one node (how edges report changes).", s.catalogUpdateChecks)
	rpc.Register(api, rpc.MethodCatalogNodes, "Every node. Blocking with index and wait.", s.catalogNodes)
	rpc.Register(api, rpc.MethodCatalogNode, "One node with its services. Blocking.", s.catalogNode)
	rpc.Register(api, rpc.MethodCatalogServices, "Every service name with the union of its tags. Blocking.", s.catalogServices)
	rpc.Register(api, rpc.MethodCatalogService, "The instances of a service, optionally with a tag, whatever their health. Blocking.", s.catalogService)
	rpc.Register(api, rpc.MethodHealthService, "The instances of a service with their checks; only passing ones unless passing_only is false. Blocking.", s.healthService)
	rpc.Register(api, rpc.MethodHealthNode, "The checks of one node. Blocking.", s.healthNode)
	rpc.Register(api, rpc.MethodHealthChecks, "The checks of every instance of a service. Blocking.", s.healthChecks)
	rpc.Register(api, rpc.MethodHealthState, "Every check in a state: passing, warning, critical or any. Blocking.", s.healthState)
}

// validateRegister checks a catalog.register call and fills defaults.
func validateRegister(p *rpc.CatalogRegisterParams) error {
	if err := rpc.ValidateName("node", p.Node); err != nil {
		return err
	}
	if len(p.Address) > rpc.MaxNameBytes {
		return rpc.InvalidParams("field \"address\": over %d bytes", rpc.MaxNameBytes)
	}
	if err := rpc.ValidateMeta("node_meta", p.NodeMeta); err != nil {
		return err
	}
	if len(p.Services) > rpc.MaxServicesPerReq || len(p.Checks) > rpc.MaxChecksPerReq {
		return rpc.InvalidParams("fields \"services\" and \"checks\": at most %d services and %d checks per call", rpc.MaxServicesPerReq, rpc.MaxChecksPerReq)
	}
	ids := map[string]bool{}
	for i := range p.Services {
		sv := &p.Services[i]
		sv.Normalize()
		field := fmt.Sprintf("services[%d]", i)
		if err := sv.Validate(field); err != nil {
			return err
		}
		if ids[sv.ID] {
			return rpc.InvalidParams("field %q: service id %q appears twice", field+".id", sv.ID)
		}
		ids[sv.ID] = true
		sv.CreateIndex, sv.ModifyIndex = 0, 0
	}
	checkIDs := map[string]bool{}
	for i := range p.Checks {
		c := &p.Checks[i]
		field := fmt.Sprintf("checks[%d]", i)
		if c.ID == "" {
			c.ID = c.Name
		}
		if err := rpc.ValidateName(field+".id", c.ID); err != nil {
			return err
		}
		if checkIDs[c.ID] {
			return rpc.InvalidParams("field %q: check id %q appears twice", field+".id", c.ID)
		}
		checkIDs[c.ID] = true
		if c.Status == "" {
			c.Status = rpc.HealthCritical
		}
		if !rpc.ValidStatus(c.Status) {
			return rpc.InvalidParams("field %q: %q is not one of passing, warning, critical", field+".status", c.Status)
		}
		if len(c.Output) > rpc.MaxCheckOutput {
			c.Output = c.Output[:rpc.MaxCheckOutput]
		}
		if c.Node != "" && c.Node != p.Node {
			return rpc.InvalidParams("field %q: %q is not the node being registered (%q)", field+".node", c.Node, p.Node)
		}
		c.Node = p.Node
		c.CreateIndex, c.ModifyIndex = 0, 0
	}
	return nil
}

func (s *Server) catalogRegister(ctx context.Context, p *rpc.CatalogRegisterParams) (*rpc.WriteResult, error) {
	if err := validateRegister(p); err != nil {
		return nil, err
	}
	return s.proposeCatalog(ctx, p.WriteOptions, &catalog.Command{Op: catalog.OpRegister, Node: p.Node,
		Address: p.Address, NodeMeta: p.NodeMeta, Services: p.Services, Checks: p.Checks, Sync: p.Sync, NodeCheck: p.Agent})
}

func (s *Server) catalogDeregister(ctx context.Context, p *rpc.CatalogDeregisterParams) (*rpc.WriteResult, error) {
	if err := rpc.ValidateName("node", p.Node); err != nil {
		return nil, err
	}
	if p.ServiceID != "" && p.CheckID != "" {
		return nil, rpc.InvalidParams("fields \"service_id\" and \"check_id\": give one or neither, not both")
	}
	return s.proposeCatalog(ctx, p.WriteOptions, &catalog.Command{Op: catalog.OpDeregister, Node: p.Node,
		ServiceID: p.ServiceID, CheckID: p.CheckID})
}

func (s *Server) catalogUpdateChecks(ctx context.Context, p *rpc.CheckUpdateParams) (*rpc.WriteResult, error) {
	if err := rpc.ValidateName("node", p.Node); err != nil {
		return nil, err
	}
	if len(p.Checks) == 0 || len(p.Checks) > rpc.MaxChecksPerReq {
		return nil, rpc.InvalidParams("field \"checks\": give 1 to %d status updates", rpc.MaxChecksPerReq)
	}
	for i := range p.Checks {
		c := &p.Checks[i]
		if !rpc.ValidStatus(c.Status) {
			return nil, rpc.InvalidParams("field \"checks[%d].status\": %q is not one of passing, warning, critical", i, c.Status)
		}
		if len(c.Output) > rpc.MaxCheckOutput {
			c.Output = c.Output[:rpc.MaxCheckOutput]
		}
	}
	return s.proposeCatalog(ctx, p.WriteOptions, &catalog.Command{Op: catalog.OpUpdateChecks, Node: p.Node, Status: p.Checks})
}

func (s *Server) proposeCatalog(ctx context.Context, opts rpc.WriteOptions, cmd *catalog.Command) (*rpc.WriteResult, error) {
	res, err := s.proposeSystem(ctx, opts, cmd)
	if err != nil {
		return nil, err
	}
	if len(res.Missing) > 0 {
		return nil, fmt.Errorf("%w: node %q has no check %q (other updates in the call were applied)", rpc.ErrNotFound, cmd.Node, res.Missing)
	}
	return &rpc.WriteResult{OK: true, Index: res.Index}, nil
}

// readCatalog runs q over the system shard's catalog with the call's
// consistency and blocking options.
func (s *Server) readCatalog(ctx context.Context, opts rpc.ReadOptions, q func(v *catalog.View) (uint64, <-chan struct{})) (rpc.ReadMeta, error) {
	return s.read(ctx, opts, []shard.ID{shard.System}, func(views []any) (uint64, []<-chan struct{}) {
		idx, w := q(views[0].(*catalog.View))
		return idx, []<-chan struct{}{w}
	})
}

func (s *Server) catalogNodes(ctx context.Context, p *rpc.CatalogNodesParams) (*rpc.CatalogNodesResult, error) {
	out := &rpc.CatalogNodesResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Nodes, idx, w = v.Nodes()
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) catalogNode(ctx context.Context, p *rpc.CatalogNodeParams) (*rpc.CatalogNodeResult, error) {
	if err := rpc.ValidateName("node", p.Node); err != nil {
		return nil, err
	}
	out := &rpc.CatalogNodeResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Node, out.Services, idx, w = v.Node(p.Node)
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) catalogServices(ctx context.Context, p *rpc.CatalogServicesParams) (*rpc.CatalogServicesResult, error) {
	out := &rpc.CatalogServicesResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Services, idx, w = v.Services()
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) catalogService(ctx context.Context, p *rpc.CatalogServiceParams) (*rpc.CatalogServiceResult, error) {
	if err := rpc.ValidateName("name", p.Name); err != nil {
		return nil, err
	}
	out := &rpc.CatalogServiceResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Instances, idx, w = v.Service(p.Name, p.Tag)
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) healthService(ctx context.Context, p *rpc.HealthServiceParams) (*rpc.HealthServiceResult, error) {
	if err := rpc.ValidateName("name", p.Name); err != nil {
		return nil, err
	}
	passingOnly := p.PassingOnly == nil || *p.PassingOnly
	out := &rpc.HealthServiceResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Instances, idx, w = v.Health(p.Name, p.Tag, passingOnly)
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) healthNode(ctx context.Context, p *rpc.HealthNodeParams) (*rpc.HealthChecksResult, error) {
	if err := rpc.ValidateName("node", p.Node); err != nil {
		return nil, err
	}
	out := &rpc.HealthChecksResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Checks, idx, w = v.NodeChecks(p.Node)
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) healthChecks(ctx context.Context, p *rpc.HealthChecksParams) (*rpc.HealthChecksResult, error) {
	if err := rpc.ValidateName("service", p.Service); err != nil {
		return nil, err
	}
	out := &rpc.HealthChecksResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Checks, idx, w = v.ServiceChecks(p.Service)
		return
	})
	out.ReadMeta = meta
	return out, err
}

func (s *Server) healthState(ctx context.Context, p *rpc.HealthStateParams) (*rpc.HealthChecksResult, error) {
	if p.State != rpc.HealthAny && !rpc.ValidStatus(p.State) {
		return nil, rpc.InvalidParams("field \"state\": %q is not one of passing, warning, critical, any", p.State)
	}
	out := &rpc.HealthChecksResult{}
	meta, err := s.readCatalog(ctx, p.ReadOptions, func(v *catalog.View) (idx uint64, w <-chan struct{}) {
		out.Checks, idx, w = v.ChecksInState(p.State)
		return
	})
	out.ReadMeta = meta
	return out, err
}

// NodeAlive records that gossip sees node alive at address: registers it
// if the catalog lacks it and sets its gossip check passing. Called on
// the system shard's leader (see IsSystemLeader).
func (s *Server) NodeAlive(ctx context.Context, node, address string) error {
	_, err := s.proposeCatalog(ctx, rpc.WriteOptions{}, &catalog.Command{Op: catalog.OpNodeAlive, Node: node, Address: address})
	return err
}

// NodeFailed sets node's gossip check critical, taking its services out of
// discovery.
func (s *Server) NodeFailed(ctx context.Context, node string) error {
	_, err := s.proposeCatalog(ctx, rpc.WriteOptions{}, &catalog.Command{Op: catalog.OpNodeFailed, Node: node})
	return err
}

// NodeLeft deregisters a node that left gracefully.
func (s *Server) NodeLeft(ctx context.Context, node string) error {
	_, err := s.proposeCatalog(ctx, rpc.WriteOptions{}, &catalog.Command{Op: catalog.OpDeregister, Node: node})
	return err
}

// IsSystemLeader reports whether this server leads the system shard, the
// one that acts on gossip events.
func (s *Server) IsSystemLeader() bool {
	info, err := s.raft.Info(shard.System)
	return err == nil && info.IsLeader
}
