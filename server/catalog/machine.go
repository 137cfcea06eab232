package catalog

import (
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"meridian/rpc"
)

// Outputs of the gossip node check, as Consul words them.
const (
	NodeAliveOutput  = "Agent alive and reachable"
	NodeFailedOutput = "Agent not live or unreachable"
)

// Machine is the replicated catalog. Readers call View, which never
// blocks; one writer at a time applies entries with Begin/Apply/Commit or
// replaces the state with RestoreSnapshot.
type Machine struct {
	cur atomic.Pointer[View]
}

// New returns an empty catalog at index 0.
func New() *Machine {
	m := &Machine{}
	m.cur.Store(emptyView())
	return m
}

// View returns the current state.
func (m *Machine) View() *View { return m.cur.Load() }

// Batch applies a run of entries and publishes them together on Commit.
type Batch struct {
	m           *Machine
	base        *View
	nodes       *iradix.Txn[*rpc.Node]
	services    *iradix.Txn[*rpc.Service]
	checks      *iradix.Txn[*rpc.Check]
	byName      *iradix.Txn[struct{}]
	indexes     *iradix.Txn[uint64]
	modules     *iradix.Txn[*StoredModule]
	moduleNames *iradix.Txn[string]
	applied     uint64
	done        bool
}

// Begin starts a batch on the current state.
func (m *Machine) Begin() *Batch {
	v := m.cur.Load()
	b := &Batch{
		m: m, base: v,
		nodes: v.nodes.Txn(), services: v.services.Txn(), checks: v.checks.Txn(),
		byName: v.byName.Txn(), indexes: v.indexes.Txn(),
		modules: v.modules.Txn(), moduleNames: v.moduleNames.Txn(),
		applied: v.applied,
	}
	b.indexes.TrackMutate(true)
	return b
}

// Commit publishes the batch and wakes the watchers of what changed.
func (b *Batch) Commit() {
	if b.done {
		panic("catalog: Batch.Commit called twice")
	}
	b.done = true
	if b.applied == b.base.applied {
		return
	}
	v := &View{
		nodes: b.nodes.CommitOnly(), services: b.services.CommitOnly(),
		checks: b.checks.CommitOnly(), byName: b.byName.CommitOnly(),
		indexes: b.indexes.CommitOnly(), applied: b.applied,
		modules: b.modules.CommitOnly(), moduleNames: b.moduleNames.CommitOnly(),
	}
	if !b.m.cur.CompareAndSwap(b.base, v) {
		panic("catalog: state changed under an open Batch: concurrent writers")
	}
	b.indexes.Notify()
}

// Apply applies the command of the raft entry at index. It is
// deterministic. A command that is malformed or breaks a rule (a check
// naming a service the node does not have, an unknown status) changes
// nothing and returns a Result with Err set.
func (b *Batch) Apply(index uint64, cmd []byte) Result {
	if b.done {
		panic("catalog: Batch.Apply after Commit")
	}
	if index <= b.applied {
		return Result{Index: index, Err: fmt.Sprintf("catalog: index %d does not follow applied index %d", index, b.applied)}
	}
	b.applied = index
	c, err := UnmarshalCommand(cmd)
	if err != nil {
		return Result{Index: index, Err: err.Error()}
	}
	r := Result{Index: index, OK: true}
	switch c.Op {
	case OpModulePut:
		r.Existed, err = b.modulePut(index, c)
	case OpModuleDelete:
		err = b.moduleDelete(index, c)
	}
	if c.Op == OpModulePut || c.Op == OpModuleDelete {
		if err != nil {
			return Result{Index: index, Err: err.Error()}
		}
		return r
	}
	if c.Node == "" {
		return Result{Index: index, Err: "catalog: the command names no node"}
	}
	switch c.Op {
	case OpRegister:
		err = b.register(index, c)
	case OpDeregister:
		b.deregister(index, c)
	case OpUpdateChecks:
		r.Missing, err = b.updateChecks(index, c)
	case OpNodeAlive:
		b.nodeHealth(index, c.Node, c.Address, rpc.HealthPassing, NodeAliveOutput, true)
	case OpNodeFailed:
		b.nodeHealth(index, c.Node, "", rpc.HealthCritical, NodeFailedOutput, false)
	default:
		err = fmt.Errorf("%w: unknown op %q", ErrMalformedCommand, c.Op)
	}
	if err != nil {
		return Result{Index: index, Err: err.Error()}
	}
	return r
}

// touch moves the indexes that cover key and the table forward.
func (b *Batch) touch(index uint64, keys ...string) {
	for _, k := range keys {
		b.indexes.Insert([]byte(k), index)
	}
}

// touchNode marks a change on node that may change the health of every
// instance on it.
func (b *Batch) touchNode(index uint64, node string) {
	b.touch(index, idxNode+node)
	it := b.services.Root().Iterator()
	it.SeekPrefix(pair(node, ""))
	for _, s, ok := it.Next(); ok; _, s, ok = it.Next() {
		b.touch(index, idxService+s.Name)
	}
}

func validStatus(s string) bool {
	return s == rpc.HealthPassing || s == rpc.HealthWarning || s == rpc.HealthCritical
}

func (b *Batch) register(index uint64, c *Command) error {
	// Check everything first: a command applies whole or not at all.
	ids := map[string]string{} // service id -> name, after this command
	if !c.Sync {
		it := b.services.Root().Iterator()
		it.SeekPrefix(pair(c.Node, ""))
		for _, s, ok := it.Next(); ok; _, s, ok = it.Next() {
			ids[s.ID] = s.Name
		}
	}
	for i, s := range c.Services {
		if s.ID == "" || s.Name == "" {
			return fmt.Errorf("catalog: service %d needs an id and a name", i)
		}
		ids[s.ID] = s.Name
	}
	for _, ch := range c.Checks {
		if ch.ID == "" {
			return fmt.Errorf("catalog: a check of node %q has no id", c.Node)
		}
		if !validStatus(ch.Status) {
			return fmt.Errorf("catalog: check %q: status %q is not passing, warning or critical", ch.ID, ch.Status)
		}
		if _, ok := ids[ch.ServiceID]; ch.ServiceID != "" && !ok {
			return fmt.Errorf("catalog: check %q names service %q, which node %q does not have", ch.ID, ch.ServiceID, c.Node)
		}
	}

	b.putNode(index, c.Node, c.Address, c.NodeMeta, c.NodeMeta != nil)
	if c.Sync {
		keep := map[string]bool{}
		for _, s := range c.Services {
			keep[s.ID] = true
		}
		for _, s := range b.listServices(c.Node) {
			if !keep[s.ID] {
				b.removeService(index, c.Node, s)
			}
		}
		keepChecks := map[string]bool{rpc.NodeCheckID: true}
		for _, ch := range c.Checks {
			keepChecks[ch.ID] = true
		}
		for _, ch := range b.listChecks(c.Node) {
			if !keepChecks[ch.ID] {
				b.removeCheck(index, ch)
			}
		}
	}
	for _, s := range c.Services {
		b.putService(index, c.Node, s)
	}
	for _, ch := range c.Checks {
		ch.Node = c.Node
		ch.ServiceName = ids[ch.ServiceID]
		b.putCheck(index, ch)
	}
	if _, ok := b.checks.Get(pair(c.Node, rpc.NodeCheckID)); c.NodeCheck && !ok {
		b.nodeHealth(index, c.Node, c.Address, rpc.HealthPassing, NodeAliveOutput, true)
	}
	return nil
}

// putNode creates or updates a node; setMeta says whether meta is given.
func (b *Batch) putNode(index uint64, name, address string, meta map[string]string, setMeta bool) {
	old, ok := b.nodes.Get([]byte(name))
	n := rpc.Node{Node: name, Address: address, Meta: meta, CreateIndex: index, ModifyIndex: index}
	if ok {
		if address == "" {
			n.Address = old.Address
		}
		if !setMeta {
			n.Meta = old.Meta
		}
		if n.Address == old.Address && maps.Equal(n.Meta, old.Meta) {
			return
		}
		n.CreateIndex = old.CreateIndex
	}
	b.nodes.Insert([]byte(name), &n)
	b.touch(index, idxNodes)
	b.touchNode(index, name)
}

func (b *Batch) putService(index uint64, node string, s rpc.Service) {
	key := pair(node, s.ID)
	s.CreateIndex, s.ModifyIndex = index, index
	if old, ok := b.services.Get(key); ok {
		s.CreateIndex = old.CreateIndex
		if sameService(old, &s) {
			return
		}
		if old.Name != s.Name {
			b.byName.Delete(pair(old.Name, node+"\x00"+s.ID))
			b.touch(index, idxService+old.Name)
			// Its checks now belong to the new name.
			for _, ch := range b.listChecks(node) {
				if ch.ServiceID == s.ID {
					c := *ch
					c.ServiceName, c.ModifyIndex = s.Name, index
					b.checks.Insert(pair(node, c.ID), &c)
				}
			}
			b.touch(index, idxChecks)
		}
	}
	b.services.Insert(key, &s)
	b.byName.Insert(pair(s.Name, node+"\x00"+s.ID), struct{}{})
	b.touch(index, idxServices, idxService+s.Name, idxNode+node)
}

func sameService(a, b *rpc.Service) bool {
	return a.ID == b.ID && a.Name == b.Name && slices.Equal(a.Tags, b.Tags) &&
		a.Address == b.Address && a.Port == b.Port && maps.Equal(a.Meta, b.Meta)
}

func (b *Batch) putCheck(index uint64, ch rpc.Check) {
	key := pair(ch.Node, ch.ID)
	ch.CreateIndex, ch.ModifyIndex = index, index
	if old, ok := b.checks.Get(key); ok {
		ch.CreateIndex = old.CreateIndex
		o := *old
		o.CreateIndex, o.ModifyIndex = ch.CreateIndex, ch.ModifyIndex
		if o == ch {
			return
		}
		if old.ServiceID != ch.ServiceID {
			b.touchCheckOwner(index, old)
		}
	}
	b.checks.Insert(key, &ch)
	b.touch(index, idxChecks)
	b.touchCheckOwner(index, &ch)
}

// touchCheckOwner moves the indexes a check's state feeds: its node's and
// its service's, or every service on the node for a node-level check.
func (b *Batch) touchCheckOwner(index uint64, ch *rpc.Check) {
	if ch.ServiceID == "" {
		b.touchNode(index, ch.Node)
		return
	}
	b.touch(index, idxNode+ch.Node, idxService+ch.ServiceName)
}

func (b *Batch) listServices(node string) []*rpc.Service {
	var out []*rpc.Service
	it := b.services.Root().Iterator()
	it.SeekPrefix(pair(node, ""))
	for _, s, ok := it.Next(); ok; _, s, ok = it.Next() {
		out = append(out, s)
	}
	return out
}

func (b *Batch) listChecks(node string) []*rpc.Check {
	var out []*rpc.Check
	it := b.checks.Root().Iterator()
	it.SeekPrefix(pair(node, ""))
	for _, c, ok := it.Next(); ok; _, c, ok = it.Next() {
		out = append(out, c)
	}
	return out
}

func (b *Batch) removeService(index uint64, node string, s *rpc.Service) {
	for _, ch := range b.listChecks(node) {
		if ch.ServiceID == s.ID {
			b.removeCheck(index, ch)
		}
	}
	b.services.Delete(pair(node, s.ID))
	b.byName.Delete(pair(s.Name, node+"\x00"+s.ID))
	b.touch(index, idxServices, idxService+s.Name, idxNode+node)
}

func (b *Batch) removeCheck(index uint64, ch *rpc.Check) {
	b.touchCheckOwner(index, ch)
	b.checks.Delete(pair(ch.Node, ch.ID))
	b.touch(index, idxChecks)
}

func (b *Batch) deregister(index uint64, c *Command) {
	switch {
	case c.CheckID != "":
		if ch, ok := b.checks.Get(pair(c.Node, c.CheckID)); ok {
			b.removeCheck(index, ch)
		}
	case c.ServiceID != "":
		if s, ok := b.services.Get(pair(c.Node, c.ServiceID)); ok {
			b.removeService(index, c.Node, s)
		}
	default:
		if _, ok := b.nodes.Get([]byte(c.Node)); !ok {
			return
		}
		b.touchNode(index, c.Node)
		for _, s := range b.listServices(c.Node) {
			b.removeService(index, c.Node, s)
		}
		for _, ch := range b.listChecks(c.Node) {
			b.removeCheck(index, ch)
		}
		b.nodes.Delete([]byte(c.Node))
		b.touch(index, idxNodes, idxNode+c.Node)
	}
}

func (b *Batch) updateChecks(index uint64, c *Command) (missing []string, err error) {
	for _, st := range c.Status {
		if !validStatus(st.Status) {
			return nil, fmt.Errorf("catalog: check %q: status %q is not passing, warning or critical", st.ID, st.Status)
		}
	}
	for _, st := range c.Status {
		old, ok := b.checks.Get(pair(c.Node, st.ID))
		if !ok {
			missing = append(missing, st.ID)
			continue
		}
		ch := *old
		ch.Status, ch.Output = st.Status, st.Output
		b.putCheck(index, ch)
	}
	return missing, nil
}

// nodeHealth sets the gossip check of node. With create, a node missing
// from the catalog is registered at address first.
func (b *Batch) nodeHealth(index uint64, node, address, status, output string, create bool) {
	if _, ok := b.nodes.Get([]byte(node)); !ok {
		if !create {
			return
		}
		b.putNode(index, node, address, nil, false)
	}
	ch := rpc.Check{Node: node, ID: rpc.NodeCheckID, Name: "Meridian agent status", Kind: "gossip", Status: status, Output: output}
	if old, ok := b.checks.Get(pair(node, rpc.NodeCheckID)); ok {
		ch.Notes = old.Notes
	}
	b.putCheck(index, ch)
}
