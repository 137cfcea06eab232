package catalog

import (
	"sort"
	"strings"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"meridian/rpc"
)

// Index keys in View.indexes.
const (
	idxNodes    = "t\x00nodes"
	idxServices = "t\x00services"
	idxChecks   = "t\x00checks"
	idxNode     = "n\x00" // + node name
	idxService  = "s\x00" // + service name
)

// View is one immutable state of the catalog. Safe for any number of
// goroutines; the records it returns are shared and must not be mutated.
type View struct {
	nodes    *iradix.Tree[*rpc.Node]    // node name
	services *iradix.Tree[*rpc.Service] // node \x00 service id
	checks   *iradix.Tree[*rpc.Check]   // node \x00 check id
	byName   *iradix.Tree[struct{}]     // service name \x00 node \x00 service id
	indexes  *iradix.Tree[uint64]
	// modules by digest; moduleNames: name -> digest (modules.go).
	modules     *iradix.Tree[*StoredModule]
	moduleNames *iradix.Tree[string]
	applied     uint64
}

func emptyView() *View {
	return &View{
		nodes:       iradix.New[*rpc.Node](),
		services:    iradix.New[*rpc.Service](),
		checks:      iradix.New[*rpc.Check](),
		byName:      iradix.New[struct{}](),
		indexes:     iradix.New[uint64](),
		modules:     iradix.New[*StoredModule](),
		moduleNames: iradix.New[string](),
	}
}

// Applied returns the raft index of the last entry applied to this state.
func (v *View) Applied() uint64 { return v.applied }

func pair(a, b string) []byte { return []byte(a + "\x00" + b) }

// index returns the index under key and a channel closed when it may move;
// a key never written falls back to the table's index.
func (v *View) index(key, table string) (uint64, <-chan struct{}) {
	watch, idx, ok := v.indexes.Root().GetWatch([]byte(key))
	if !ok {
		idx, _ = v.indexes.Get([]byte(table))
	}
	return max(idx, 1), watch
}

// Nodes lists every node, by name.
func (v *View) Nodes() ([]rpc.Node, uint64, <-chan struct{}) {
	out := make([]rpc.Node, 0, v.nodes.Len())
	it := v.nodes.Root().Iterator()
	for _, n, ok := it.Next(); ok; _, n, ok = it.Next() {
		out = append(out, *n)
	}
	idx, w := v.index(idxNodes, idxNodes)
	return out, idx, w
}

// Node returns a node (nil if absent) and its services.
func (v *View) Node(name string) (*rpc.Node, []rpc.Service, uint64, <-chan struct{}) {
	idx, w := v.index(idxNode+name, idxNodes)
	n, ok := v.nodes.Get([]byte(name))
	if !ok {
		return nil, []rpc.Service{}, idx, w
	}
	node := *n
	return &node, v.nodeServices(name), idx, w
}

func (v *View) nodeServices(node string) []rpc.Service {
	out := []rpc.Service{}
	it := v.services.Root().Iterator()
	it.SeekPrefix(pair(node, ""))
	for _, s, ok := it.Next(); ok; _, s, ok = it.Next() {
		out = append(out, *s)
	}
	return out
}

// Services maps every service name to the sorted union of its tags.
func (v *View) Services() (map[string][]string, uint64, <-chan struct{}) {
	tags := map[string]map[string]bool{}
	it := v.services.Root().Iterator()
	for _, s, ok := it.Next(); ok; _, s, ok = it.Next() {
		set := tags[s.Name]
		if set == nil {
			set = map[string]bool{}
			tags[s.Name] = set
		}
		for _, t := range s.Tags {
			set[t] = true
		}
	}
	out := make(map[string][]string, len(tags))
	for name, set := range tags {
		list := make([]string, 0, len(set))
		for t := range set {
			list = append(list, t)
		}
		sort.Strings(list)
		out[name] = list
	}
	idx, w := v.index(idxServices, idxServices)
	return out, idx, w
}

// instances calls fn for each instance of service name carrying tag
// ("" = any), in node then ID order.
func (v *View) instances(name, tag string, fn func(n *rpc.Node, s *rpc.Service)) {
	it := v.byName.Root().Iterator()
	prefix := name + "\x00"
	it.SeekPrefix([]byte(prefix))
	for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
		node, id, _ := strings.Cut(string(k[len(prefix):]), "\x00")
		s, ok1 := v.services.Get(pair(node, id))
		n, ok2 := v.nodes.Get([]byte(node))
		if !ok1 || !ok2 || (tag != "" && !hasTag(s.Tags, tag)) {
			continue
		}
		fn(n, s)
	}
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// Service lists the instances of a service, optionally with a tag.
func (v *View) Service(name, tag string) ([]rpc.CatalogServiceEntry, uint64, <-chan struct{}) {
	out := []rpc.CatalogServiceEntry{}
	v.instances(name, tag, func(n *rpc.Node, s *rpc.Service) {
		out = append(out, rpc.CatalogServiceEntry{Node: *n, Service: *s})
	})
	idx, w := v.index(idxService+name, idxServices)
	return out, idx, w
}

// Health lists the instances of a service with the checks that decide
// their health: the node's own checks and the instance's. With
// passingOnly, only instances whose checks are all passing.
func (v *View) Health(name, tag string, passingOnly bool) ([]rpc.ServiceInstance, uint64, <-chan struct{}) {
	out := []rpc.ServiceInstance{}
	v.instances(name, tag, func(n *rpc.Node, s *rpc.Service) {
		inst := rpc.ServiceInstance{Node: *n, Service: *s, Checks: []rpc.Check{}}
		healthy := true
		v.nodeChecks(n.Node, func(c *rpc.Check) {
			if c.ServiceID == "" || c.ServiceID == s.ID {
				inst.Checks = append(inst.Checks, *c)
				healthy = healthy && c.Status == rpc.HealthPassing
			}
		})
		if healthy || !passingOnly {
			out = append(out, inst)
		}
	})
	idx, w := v.index(idxService+name, idxServices)
	return out, idx, w
}

func (v *View) nodeChecks(node string, fn func(c *rpc.Check)) {
	it := v.checks.Root().Iterator()
	it.SeekPrefix(pair(node, ""))
	for _, c, ok := it.Next(); ok; _, c, ok = it.Next() {
		fn(c)
	}
}

// NodeChecks lists the checks of a node, node-level and service ones.
func (v *View) NodeChecks(node string) ([]rpc.Check, uint64, <-chan struct{}) {
	out := []rpc.Check{}
	v.nodeChecks(node, func(c *rpc.Check) { out = append(out, *c) })
	idx, w := v.index(idxNode+node, idxNodes)
	return out, idx, w
}

// ServiceChecks lists the checks of every instance of a service (not the
// node-level ones).
func (v *View) ServiceChecks(name string) ([]rpc.Check, uint64, <-chan struct{}) {
	out := []rpc.Check{}
	v.instances(name, "", func(n *rpc.Node, s *rpc.Service) {
		v.nodeChecks(n.Node, func(c *rpc.Check) {
			if c.ServiceID == s.ID {
				out = append(out, *c)
			}
		})
	})
	idx, w := v.index(idxService+name, idxServices)
	return out, idx, w
}

// ChecksInState lists every check in state (rpc.HealthAny for all).
func (v *View) ChecksInState(state string) ([]rpc.Check, uint64, <-chan struct{}) {
	out := []rpc.Check{}
	it := v.checks.Root().Iterator()
	for _, c, ok := it.Next(); ok; _, c, ok = it.Next() {
		if state == rpc.HealthAny || c.Status == state {
			out = append(out, *c)
		}
	}
	idx, w := v.index(idxChecks, idxChecks)
	return out, idx, w
}
