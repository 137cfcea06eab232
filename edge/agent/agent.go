package agent

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"meridian/checks"
	"meridian/rpc"
)

// Limits of one node's registrations: a full sync sends them in one call.
const (
	MaxServices = rpc.MaxServicesPerReq
	MaxChecks   = rpc.MaxChecksPerReq
)

// Agent holds a node's services and checks and keeps the catalog in line.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	runner *checks.Runner

	mu       sync.Mutex
	services map[string]*localService
	checks   map[string]*localCheck
	pending  pending
	wake     chan struct{}

	closeOnce sync.Once
}

type localService struct {
	svc      rpc.Service
	fromFile string // the definition file, "" when registered by API
}

type localCheck struct {
	def      rpc.CheckDefinition // normalized
	fromFile string
}

// pending is what the catalog has not been told yet.
type pending struct {
	full         bool
	services     map[string]bool // register (with its checks)
	checks       map[string]bool // register the definition
	status       map[string]bool // status changed
	goneServices map[string]bool
	goneChecks   map[string]bool
}

func newPending() pending {
	return pending{full: true, services: map[string]bool{}, checks: map[string]bool{},
		status: map[string]bool{}, goneServices: map[string]bool{}, goneChecks: map[string]bool{}}
}

func (p *pending) empty() bool {
	return !p.full && len(p.services)+len(p.checks)+len(p.status)+len(p.goneServices)+len(p.goneChecks) == 0
}

// New builds an agent with the definitions of cfg.ConfigDir and those
// saved in cfg.DataDir, and starts their checks. Run pushes them.
func New(cfg Config) (*Agent, error) {
	def := DefaultConfig()
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = def.SyncInterval
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = def.RetryInterval
	}
	if cfg.BatchDelay == 0 {
		cfg.BatchDelay = def.BatchDelay
	}
	if cfg.ReapInterval == 0 {
		cfg.ReapInterval = def.ReapInterval
	}
	if cfg.Role == "" {
		cfg.Role = def.Role
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		cfg: cfg, log: cfg.Logger,
		services: map[string]*localService{}, checks: map[string]*localCheck{},
		pending: newPending(), wake: make(chan struct{}, 1),
	}
	cc := cfg.Checks
	cc.Notify = a.statusChanged
	if cc.Logger == nil {
		cc.Logger = cfg.Logger
	}
	runner, err := checks.New(cc)
	if err != nil {
		return nil, err
	}
	a.runner = runner
	defs, err := loadConfigDir(cfg.ConfigDir)
	if err != nil {
		runner.Close()
		return nil, err
	}
	saved, err := a.loadSaved()
	if err != nil {
		runner.Close()
		return nil, err
	}
	for _, d := range append(defs, saved...) {
		if err := a.add(d.def, d.file); err != nil {
			runner.Close()
			return nil, fmt.Errorf("agent: %s: %w", d.where(), err)
		}
	}
	return a, nil
}

// Close stops the checks. Safe to call twice.
func (a *Agent) Close() {
	a.closeOnce.Do(a.runner.Close)
}

func (a *Agent) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// statusChanged is the runner's Notify.
func (a *Agent) statusChanged(u checks.Update) {
	a.mu.Lock()
	if _, ok := a.checks[u.ID]; ok {
		a.pending.status[u.ID] = true
	}
	a.mu.Unlock()
	a.poke()
}

// add registers a definition: a service with its checks, or node-level
// checks. file names where it came from ("" for the API).
func (a *Agent) add(d rpc.ServiceDefinition, file string) error {
	var svc *rpc.Service
	if d.Service != nil {
		s := *d.Service
		s.Normalize()
		s.CreateIndex, s.ModifyIndex = 0, 0
		if err := s.Validate("service"); err != nil {
			return err
		}
		svc = &s
	} else if len(d.Checks) == 0 {
		return rpc.InvalidParams("field \"service\": a definition needs a service or checks")
	}
	defs := make([]rpc.CheckDefinition, len(d.Checks))
	seen := map[string]bool{}
	for i, c := range d.Checks {
		if svc != nil {
			if c.ServiceID != "" && c.ServiceID != svc.ID {
				return rpc.InvalidParams("field \"checks[%d].service_id\": %q is not the service being registered (%q)", i, c.ServiceID, svc.ID)
			}
			c.ServiceID = svc.ID
			if c.ID == "" {
				c.ID = "service:" + svc.ID
				if len(d.Checks) > 1 {
					c.ID = fmt.Sprintf("service:%s:%d", svc.ID, i+1)
				}
			}
			if c.Name == "" {
				c.Name = fmt.Sprintf("Service '%s' check", svc.Name)
			}
		} else if c.ID == "" {
			c.ID = c.Name
		}
		// The runner validates each check when it is added, below, with
		// its own minimum interval.
		if seen[c.ID] || c.ID == rpc.NodeCheckID {
			return rpc.InvalidParams("field \"checks[%d].id\": check id %q is taken", i, c.ID)
		}
		seen[c.ID] = true
		defs[i] = checks.Normalize(c)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.checkConflicts(svc, defs, file); err != nil {
		return err
	}
	if svc != nil && a.services[svc.ID] == nil && len(a.services) >= MaxServices {
		return rpc.InvalidParams("field \"service\": this node already has the maximum of %d services", MaxServices)
	}
	if len(a.checks)+len(defs) > MaxChecks {
		return rpc.InvalidParams("field \"checks\": this node would have more than the maximum of %d checks", MaxChecks)
	}
	// Start the new checks before dropping the old ones: a bad definition
	// leaves the old state as it was.
	for i, c := range defs {
		if err := a.runner.Add(c); err != nil {
			for _, done := range defs[:i] {
				if a.checks[done.ID] == nil {
					a.runner.Remove(done.ID)
				}
			}
			return rpc.InvalidParams("field \"checks[%d]\": %v", i, unwrapInvalid(err))
		}
	}
	if svc != nil {
		keep := map[string]bool{}
		for _, c := range defs {
			keep[c.ID] = true
		}
		for id, c := range a.checks {
			if c.def.ServiceID == svc.ID && !keep[id] {
				a.removeCheckLocked(id)
			}
		}
		a.services[svc.ID] = &localService{svc: *svc, fromFile: file}
		a.pending.services[svc.ID] = true
		delete(a.pending.goneServices, svc.ID)
	}
	for _, c := range defs {
		a.checks[c.ID] = &localCheck{def: c, fromFile: file}
		a.pending.checks[c.ID] = true
		delete(a.pending.goneChecks, c.ID)
	}
	a.poke()
	return nil
}

// checkConflicts refuses an ID that another definition file owns: two
// files defining one service are a mistake to report, not to merge.
func (a *Agent) checkConflicts(svc *rpc.Service, defs []rpc.CheckDefinition, file string) error {
	if svc != nil {
		if old := a.services[svc.ID]; old != nil && old.fromFile != file && (file != "" || old.fromFile != "") {
			return rpc.InvalidParams("field \"service.id\": service id %q is already defined by %s", svc.ID, origin(old.fromFile))
		}
	}
	for i, c := range defs {
		old := a.checks[c.ID]
		if old == nil {
			continue
		}
		if old.def.ServiceID != c.ServiceID && (svc == nil || old.def.ServiceID != svc.ID) {
			return rpc.InvalidParams("field \"checks[%d].id\": check id %q already belongs to %s", i, c.ID, owner(old.def))
		}
		if old.fromFile != file && (file != "" || old.fromFile != "") {
			return rpc.InvalidParams("field \"checks[%d].id\": check id %q is already defined by %s", i, c.ID, origin(old.fromFile))
		}
	}
	return nil
}

func origin(file string) string {
	if file == "" {
		return "an API registration"
	}
	return "file " + file
}

func owner(c rpc.CheckDefinition) string {
	if c.ServiceID == "" {
		return "the node"
	}
	return fmt.Sprintf("service %q", c.ServiceID)
}

// unwrapInvalid drops the "invalid params: " prefix of an error that will
// be wrapped as invalid params again.
func unwrapInvalid(err error) string {
	msg, _ := strings.CutPrefix(err.Error(), rpc.ErrInvalidParams.Error()+": ")
	return msg
}

func (a *Agent) removeCheckLocked(id string) {
	a.runner.Remove(id)
	delete(a.checks, id)
	delete(a.pending.checks, id)
	delete(a.pending.status, id)
	a.pending.goneChecks[id] = true
}

// removeService drops a service and its checks.
func (a *Agent) removeService(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.services[id]; !ok {
		return false
	}
	for cid, c := range a.checks {
		if c.def.ServiceID == id {
			a.removeCheckLocked(cid)
			delete(a.pending.goneChecks, cid) // go with the service
		}
	}
	delete(a.services, id)
	delete(a.pending.services, id)
	a.pending.goneServices[id] = true
	a.poke()
	return true
}

func (a *Agent) removeCheck(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.checks[id]; !ok {
		return false
	}
	a.removeCheckLocked(id)
	a.poke()
	return true
}

// catalogCheck is the catalog record of a local check, with its state.
func (a *Agent) catalogCheck(c *localCheck) rpc.Check {
	out := rpc.Check{Node: a.cfg.Node, ID: c.def.ID, Name: c.def.Name, Kind: c.def.Kind,
		Notes: c.def.Notes, ServiceID: c.def.ServiceID, Status: c.def.Status, Module: c.def.Module}
	if c.def.ServiceID != "" {
		if s := a.services[c.def.ServiceID]; s != nil {
			out.ServiceName = s.svc.Name
		}
	}
	if st, ok := a.runner.Get(c.def.ID); ok {
		out.Status, out.Output = st.Status, st.Output
	}
	return out
}

// Services lists the local services with their checks, by ID.
func (a *Agent) Services() []rpc.AgentService {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]rpc.AgentService, 0, len(a.services))
	for _, s := range a.services {
		as := rpc.AgentService{Service: s.svc, Checks: []rpc.Check{}}
		for _, c := range a.checks {
			if c.def.ServiceID == s.svc.ID {
				as.Checks = append(as.Checks, a.catalogCheck(c))
			}
		}
		sort.Slice(as.Checks, func(i, j int) bool { return as.Checks[i].ID < as.Checks[j].ID })
		out = append(out, as)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service.ID < out[j].Service.ID })
	return out
}

// Checks lists the local checks with their state, by ID.
func (a *Agent) Checks() []rpc.Check {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checksLocked()
}

func (a *Agent) checksLocked() []rpc.Check {
	out := make([]rpc.Check, 0, len(a.checks))
	for _, c := range a.checks {
		out = append(out, a.catalogCheck(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// UpdateTTL reports a TTL check's result.
func (a *Agent) UpdateTTL(id, status, output string) error {
	a.mu.Lock()
	c, ok := a.checks[id]
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: no check %q on this node", rpc.ErrNotFound, id)
	}
	if c.def.Kind != rpc.CheckTTL {
		return rpc.InvalidParams("field \"id\": check %q is a %s check; only ttl checks take updates", id, c.def.Kind)
	}
	return a.runner.UpdateTTL(id, status, output)
}

// addServiceCheck adds (or replaces) one check of an existing service,
// keeping its other checks.
func (a *Agent) addServiceCheck(c rpc.CheckDefinition) error {
	a.mu.Lock()
	s := a.services[c.ServiceID]
	if s == nil {
		a.mu.Unlock()
		return rpc.InvalidParams("field \"check.service_id\": no service %q on this node", c.ServiceID)
	}
	svc := s.svc
	def := rpc.ServiceDefinition{Service: &svc}
	for _, old := range sortedKeys(a.checks) {
		if oc := a.checks[old]; oc.def.ServiceID == svc.ID && oc.def.ID != c.ID {
			def.Checks = append(def.Checks, oc.def)
		}
	}
	file := s.fromFile
	a.mu.Unlock()
	def.Checks = append(def.Checks, c)
	return a.add(def, file)
}
