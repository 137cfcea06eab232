package agent

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"meridian/rpc"
)

// Run keeps the catalog in line with the node until ctx ends: it pushes
// each change as it happens, a full sync every SyncInterval (jittered),
// and removes services whose checks stayed critical past their
// deregister_critical_after.
func (a *Agent) Run(ctx context.Context) {
	full := time.NewTimer(0)
	defer full.Stop()
	reap := time.NewTicker(a.cfg.ReapInterval)
	defer reap.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-reap.C:
			a.reap(time.Now())
			continue
		case <-full.C:
			a.mu.Lock()
			a.pending.full = true
			a.mu.Unlock()
			full.Reset(a.cfg.SyncInterval + rand.N(a.cfg.SyncInterval/4+1))
		case <-a.wake:
			if retry != nil {
				continue // a failed push is waiting for its retry
			}
			// Gather changes that come close together into one write.
			t := time.NewTimer(a.cfg.BatchDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		case <-retry:
			retry = nil
		}
		if err := a.push(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			level := slog.LevelWarn
			if errors.Is(err, rpc.ErrUnavailable) {
				level = slog.LevelDebug // no server yet, or one going away: routine
			}
			a.log.Log(ctx, level, "catalog sync failed; will retry", "err", err, "in", a.cfg.RetryInterval)
			retry = time.After(a.cfg.RetryInterval)
		}
	}
}

// push sends what is pending. On failure everything becomes pending again
// as a full sync, which repairs whatever state the catalog was left in.
func (a *Agent) push(ctx context.Context) error {
	a.mu.Lock()
	p := a.pending
	a.pending = newPending()
	a.pending.full = false
	if p.empty() {
		a.mu.Unlock()
		return nil
	}
	calls := a.plan(p)
	a.mu.Unlock()
	for _, c := range calls {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var res rpc.WriteResult
		err := rpc.Invoke(cctx, a.cfg.Servers, c.method, c.params, &res)
		cancel()
		if errors.Is(err, rpc.ErrNotFound) {
			// A check the catalog lost (someone deregistered it): put
			// everything back.
			err = errors.New("the catalog lacks checks of this node")
		}
		if err != nil {
			a.mu.Lock()
			a.pending.full = true
			a.mu.Unlock()
			return err
		}
	}
	if p.full {
		a.log.Debug("full sync done")
	}
	return nil
}

type call struct {
	method string
	params any
}

// plan turns pending changes into catalog calls. Called with a.mu held.
func (a *Agent) plan(p pending) []call {
	node := func(sync bool) rpc.CatalogRegisterParams {
		return rpc.CatalogRegisterParams{Node: a.cfg.Node, Address: a.cfg.Address, NodeMeta: a.cfg.NodeMeta, Sync: sync, Agent: true}
	}
	if p.full {
		reg := node(true)
		reg.Services = []rpc.Service{}
		for _, s := range sortedKeys(a.services) {
			reg.Services = append(reg.Services, a.services[s].svc)
		}
		reg.Checks = a.checksLocked()
		return []call{{rpc.MethodCatalogRegister, reg}}
	}
	var calls []call
	for _, id := range sortedKeys(p.goneServices) {
		calls = append(calls, call{rpc.MethodCatalogDeregister, rpc.CatalogDeregisterParams{Node: a.cfg.Node, ServiceID: id}})
	}
	for _, id := range sortedKeys(p.goneChecks) {
		calls = append(calls, call{rpc.MethodCatalogDeregister, rpc.CatalogDeregisterParams{Node: a.cfg.Node, CheckID: id}})
	}
	if len(p.services)+len(p.checks) > 0 {
		reg := node(false)
		for _, id := range sortedKeys(p.services) {
			if s := a.services[id]; s != nil {
				reg.Services = append(reg.Services, s.svc)
			}
		}
		for _, c := range a.checksLocked() {
			if p.checks[c.ID] || p.services[c.ServiceID] {
				reg.Checks = append(reg.Checks, c)
				delete(p.status, c.ID) // carried with its definition
			}
		}
		calls = append(calls, call{rpc.MethodCatalogRegister, reg})
	}
	if len(p.status) > 0 {
		up := rpc.CheckUpdateParams{Node: a.cfg.Node}
		for _, id := range sortedKeys(p.status) {
			if c := a.checks[id]; c != nil {
				cc := a.catalogCheck(c)
				up.Checks = append(up.Checks, rpc.CheckStatus{ID: id, Status: cc.Status, Output: cc.Output})
			}
		}
		if len(up.Checks) > 0 {
			calls = append(calls, call{rpc.MethodCatalogUpdateChecks, up})
		}
	}
	return calls
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// reap removes services with a check critical for longer than its
// deregister_critical_after, as Consul's reaper does.
func (a *Agent) reap(now time.Time) {
	var gone []string
	for _, st := range a.runner.States() {
		after := st.Definition.DeregisterCriticalAfter.Std()
		if after > 0 && st.ServiceID != "" && st.Status == rpc.HealthCritical && now.Sub(st.Since) > after {
			gone = append(gone, st.ServiceID)
		}
	}
	for _, id := range gone {
		if a.removeService(id) {
			a.log.Info("deregistered a service critical for too long", "service", id)
			a.mu.Lock()
			err := a.saveLocked()
			a.mu.Unlock()
			if err != nil {
				// The service is gone from the catalog either way; on a
				// restart it comes back from the stale file and is reaped
				// again, so say why rather than fail.
				a.log.Warn("could not save the agent's registrations", "err", err)
			}
		}
	}
}
