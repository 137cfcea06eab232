package agent

import (
	"context"

	"meridian/rpc"
)

// Register adds the agent.* methods to api.
func (a *Agent) Register(api *rpc.Server) {
	rpc.Register(api, rpc.MethodAgentSelf, "This agent: node, datacenter, role, version, and the servers it forwards to.", a.self)
	rpc.Register(api, rpc.MethodAgentMembers, "The members of the gossip pool (wan: the WAN pool of the servers).", a.members)
	rpc.Register(api, rpc.MethodAgentServices, "The services of this node with the state of their checks.", a.agentServices)
	rpc.Register(api, rpc.MethodAgentChecks, "The checks of this node with their state.", a.agentChecks)
	rpc.Register(api, rpc.MethodAgentServiceRegister, "Register (or replace) a service of this node with its checks; the edge runs the checks and keeps the catalog in line.", a.serviceRegister)
	rpc.Register(api, rpc.MethodAgentServiceDeregister, "Remove a service of this node with its checks.", a.serviceDeregister)
	rpc.Register(api, rpc.MethodAgentCheckRegister, "Register (or replace) a check of this node: node-level, or of a service with service_id.", a.checkRegister)
	rpc.Register(api, rpc.MethodAgentCheckDeregister, "Remove a check of this node.", a.checkDeregister)
	rpc.Register(api, rpc.MethodAgentCheckPass, "Mark a ttl check passing, with an optional output.", a.ttl(rpc.HealthPassing))
	rpc.Register(api, rpc.MethodAgentCheckWarn, "Mark a ttl check warning.", a.ttl(rpc.HealthWarning))
	rpc.Register(api, rpc.MethodAgentCheckFail, "Mark a ttl check critical.", a.ttl(rpc.HealthCritical))
	rpc.Register(api, rpc.MethodChecksTry, "Run a WASM check module once, now, on this node (or on node), registering nothing.", a.try)
}

func (a *Agent) self(context.Context, *struct{}) (*rpc.AgentSelfResult, error) {
	out := &rpc.AgentSelfResult{Node: a.cfg.Node, DC: a.cfg.DC, Role: a.cfg.Role, Version: a.cfg.Version,
		Address: a.cfg.Address, Servers: []string{}}
	if a.cfg.ServerAddrs != nil {
		out.Servers = append(out.Servers, a.cfg.ServerAddrs()...)
	}
	return out, nil
}

func (a *Agent) members(_ context.Context, p *rpc.AgentMembersParams) (*rpc.AgentMembersResult, error) {
	out := &rpc.AgentMembersResult{Members: []rpc.Member{}}
	if a.cfg.Members != nil {
		out.Members = append(out.Members, a.cfg.Members(p.WAN)...)
	}
	return out, nil
}

func (a *Agent) agentServices(context.Context, *struct{}) (*rpc.AgentServicesResult, error) {
	return &rpc.AgentServicesResult{Services: a.Services()}, nil
}

func (a *Agent) agentChecks(context.Context, *struct{}) (*rpc.AgentChecksResult, error) {
	return &rpc.AgentChecksResult{Checks: a.Checks()}, nil
}

func (a *Agent) serviceRegister(_ context.Context, p *rpc.ServiceDefinition) (*rpc.OKResult, error) {
	if p.Service == nil {
		return nil, rpc.InvalidParams("field \"service\": required")
	}
	if err := a.add(*p, ""); err != nil {
		return nil, err
	}
	return a.saved()
}

func (a *Agent) serviceDeregister(_ context.Context, p *rpc.AgentIDParams) (*rpc.OKResult, error) {
	if !a.removeService(p.ID) {
		return nil, rpc.ErrNotFoundf("no service %q on this node", p.ID)
	}
	return a.saved()
}

func (a *Agent) checkRegister(_ context.Context, p *rpc.AgentCheckRegisterParams) (*rpc.OKResult, error) {
	c := p.Check
	if c.ServiceID != "" {
		// A check of an existing service: register it beside the
		// service's other checks.
		a.mu.Lock()
		s := a.services[c.ServiceID]
		a.mu.Unlock()
		if s == nil {
			return nil, rpc.InvalidParams("field \"check.service_id\": no service %q on this node", c.ServiceID)
		}
		if c.ID == "" {
			return nil, rpc.InvalidParams("field \"check.id\": required for a check added to a service")
		}
		if err := a.addServiceCheck(c); err != nil {
			return nil, err
		}
		return a.saved()
	}
	if err := a.add(rpc.ServiceDefinition{Checks: []rpc.CheckDefinition{c}}, ""); err != nil {
		return nil, err
	}
	return a.saved()
}

func (a *Agent) checkDeregister(_ context.Context, p *rpc.AgentIDParams) (*rpc.OKResult, error) {
	if !a.removeCheck(p.ID) {
		return nil, rpc.ErrNotFoundf("no check %q on this node", p.ID)
	}
	return a.saved()
}

func (a *Agent) ttl(status string) func(context.Context, *rpc.AgentCheckUpdateParams) (*rpc.OKResult, error) {
	return func(_ context.Context, p *rpc.AgentCheckUpdateParams) (*rpc.OKResult, error) {
		if err := a.UpdateTTL(p.ID, status, p.Output); err != nil {
			return nil, err
		}
		return &rpc.OKResult{OK: true}, nil
	}
}

// saved writes the API registrations to the data directory.
func (a *Agent) saved() (*rpc.OKResult, error) {
	a.mu.Lock()
	err := a.saveLocked()
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &rpc.OKResult{OK: true}, nil
}
