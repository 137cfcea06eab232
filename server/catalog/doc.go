// Package catalog is the replicated state machine of the system shard's
// service catalog: nodes, the service instances on them, and their health
// checks with status and output.
//
// Like package kv it is pure (no clock, randomness or I/O: what gossip or
// an edge observed arrives inside the command) and keeps its state in
// immutable radix trees behind an atomic pointer, so reads and snapshots
// never block writes.
//
//	m := catalog.New()
//	b := m.Begin()
//	res := b.Apply(1, (&catalog.Command{Op: catalog.OpRegister, Node: "web-1",
//		Address: "10.0.0.5", Services: []rpc.Service{{ID: "web", Name: "web", Port: 80}}}).Marshal())
//	b.Commit()
//	instances, index, watch := m.View().Health("web", "", true)
//
// # Indexes and blocking queries
//
// Every read returns an index that moves forward whenever what it covers
// may have changed: a per-node index (the node, its services and checks),
// a per-service-name index (its instances and everything that decides
// their health, node-level checks included), and table indexes for the
// node list, the service list and the set of checks. Per-name indexes stay
// after the name is gone, so they never move back. A read of a name never
// seen returns its table's index. The watch channel a read returns closes
// when that index may have moved.
package catalog
