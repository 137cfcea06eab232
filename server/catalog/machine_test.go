package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"meridian/rpc"
)

// applier applies commands one batch each, with increasing indexes.
type applier struct {
	t     *testing.T
	m     *Machine
	index uint64
}

func newApplier(t *testing.T) *applier { return &applier{t: t, m: New()} }

func (a *applier) apply(c *Command) Result {
	a.t.Helper()
	a.index++
	b := a.m.Begin()
	r := b.Apply(a.index, c.Marshal())
	b.Commit()
	return r
}

func (a *applier) must(c *Command) Result {
	a.t.Helper()
	r := a.apply(c)
	if !r.OK || r.Err != "" {
		a.t.Fatalf("apply %s: %+v", c.Op, r)
	}
	return r
}

func web(node, id string, port int, tags ...string) *Command {
	return &Command{Op: OpRegister, Node: node, Address: "10.0.0." + node[len(node)-1:],
		Services: []rpc.Service{{ID: id, Name: "web", Port: port, Tags: tags}},
		Checks:   []rpc.Check{{ID: "service:" + id, Name: "web alive", ServiceID: id, Status: rpc.HealthPassing}}}
}

func names(in []rpc.ServiceInstance) []string {
	var out []string
	for _, i := range in {
		out = append(out, i.Node.Node+"/"+i.Service.ID)
	}
	return out
}

func TestRegisterAndHealth(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "web-a", 80, "v1"))
	a.must(web("n2", "web-b", 81, "v2"))
	a.must(&Command{Op: OpRegister, Node: "n2", Services: []rpc.Service{{ID: "db", Name: "db", Port: 5432}}})

	v := a.m.View()
	tests := []struct {
		name        string
		tag         string
		passingOnly bool
		want        []string
	}{
		{"all passing", "", true, []string{"n1/web-a", "n2/web-b"}},
		{"tag filter", "v2", true, []string{"n2/web-b"}},
		{"tag filter is case-insensitive", "V1", true, []string{"n1/web-a"}},
		{"unknown tag", "v9", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, idx, _ := v.Health("web", tc.tag, tc.passingOnly)
			if !reflect.DeepEqual(names(got), tc.want) {
				t.Fatalf("instances %v, want %v", names(got), tc.want)
			}
			if idx == 0 {
				t.Fatal("index 0")
			}
		})
	}
	svcs, _, _ := v.Services()
	if !reflect.DeepEqual(svcs, map[string][]string{"web": {"v1", "v2"}, "db": {}}) {
		t.Fatalf("services %v", svcs)
	}
	n, ss, _, _ := v.Node("n2")
	if n == nil || n.Address != "10.0.0.2" || len(ss) != 2 {
		t.Fatalf("node n2: %+v %+v", n, ss)
	}
	// Registering db without an address kept the node's address.
	nodes, _, _ := v.Nodes()
	if len(nodes) != 2 || nodes[1].Address != "10.0.0.2" {
		t.Fatalf("nodes %+v", nodes)
	}
}

func TestCheckStatusDecidesHealth(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "web-a", 80))
	a.must(web("n2", "web-b", 80))
	v0 := a.m.View()
	_, idx0, watch := v0.Health("web", "", true)

	r := a.must(&Command{Op: OpUpdateChecks, Node: "n1", Status: []rpc.CheckStatus{{ID: "service:web-a", Status: rpc.HealthCritical, Output: "HTTP 500"}}})
	select {
	case <-watch:
	default:
		t.Fatal("a status change did not wake the watcher of the service")
	}
	got, idx1, _ := a.m.View().Health("web", "", true)
	if !reflect.DeepEqual(names(got), []string{"n2/web-b"}) || idx1 != r.Index || idx1 <= idx0 {
		t.Fatalf("after critical: %v index %d (before %d)", names(got), idx1, idx0)
	}
	all, _, _ := a.m.View().Health("web", "", false)
	if len(all) != 2 || all[0].Checks[0].Output != "HTTP 500" {
		t.Fatalf("passing_only=false: %+v", all)
	}
	// Warning is not passing.
	a.must(&Command{Op: OpUpdateChecks, Node: "n1", Status: []rpc.CheckStatus{{ID: "service:web-a", Status: rpc.HealthWarning}}})
	if got, _, _ := a.m.View().Health("web", "", true); len(got) != 1 {
		t.Fatalf("warning counted as passing: %v", names(got))
	}
	// An update that changes nothing moves no index.
	a.must(&Command{Op: OpUpdateChecks, Node: "n1", Status: []rpc.CheckStatus{{ID: "service:web-a", Status: rpc.HealthWarning}}})
	if _, idx, _ := a.m.View().Health("web", "", true); idx != a.index-1 {
		t.Fatalf("a no-op update moved the index to %d", idx)
	}
	// Unknown checks are reported, known ones applied.
	r = a.apply(&Command{Op: OpUpdateChecks, Node: "n1", Status: []rpc.CheckStatus{{ID: "nope", Status: rpc.HealthPassing}, {ID: "service:web-a", Status: rpc.HealthPassing}}})
	if !reflect.DeepEqual(r.Missing, []string{"nope"}) {
		t.Fatalf("missing %v", r.Missing)
	}
	if got, _, _ := a.m.View().Health("web", "", true); len(got) != 2 {
		t.Fatalf("after passing again: %v", names(got))
	}
}

func TestNodeGossipCheck(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "web-a", 80))
	a.must(web("n2", "web-b", 80))
	a.must(&Command{Op: OpNodeAlive, Node: "n1", Address: "10.0.0.1"})
	_, _, watch := a.m.View().Health("web", "", true)
	a.must(&Command{Op: OpNodeFailed, Node: "n1"})
	select {
	case <-watch:
	default:
		t.Fatal("a failed node did not wake watchers of its services")
	}
	got, _, _ := a.m.View().Health("web", "", true)
	if !reflect.DeepEqual(names(got), []string{"n2/web-b"}) {
		t.Fatalf("failed node still discovered: %v", names(got))
	}
	checks, _, _ := a.m.View().NodeChecks("n1")
	if len(checks) != 2 || checks[0].ID != rpc.NodeCheckID || checks[0].Output != NodeFailedOutput {
		t.Fatalf("node checks %+v", checks)
	}
	a.must(&Command{Op: OpNodeAlive, Node: "n1"})
	if got, _, _ := a.m.View().Health("web", "", true); len(got) != 2 {
		t.Fatalf("back alive: %v", names(got))
	}
	// A failed node that was never registered stays unknown; an alive one
	// is registered.
	a.must(&Command{Op: OpNodeFailed, Node: "ghost"})
	a.must(&Command{Op: OpNodeAlive, Node: "n3", Address: "10.0.0.3"})
	nodes, _, _ := a.m.View().Nodes()
	if len(nodes) != 3 || nodes[2].Node != "n3" {
		t.Fatalf("nodes %+v", nodes)
	}
}

// An agent's own registration gives its node a gossip check if it has
// none, so that the servers can fail the node even when gossip never told
// the leader about it; it never revives a check gossip set critical, and
// other registrations (external nodes) get none.
func TestAgentRegisterAddsGossipCheck(t *testing.T) {
	a := newApplier(t)
	ext := web("n1", "web-a", 80)
	ext.Sync = true
	a.must(ext)
	if checks, _, _ := a.m.View().NodeChecks("n1"); len(checks) != 1 || checks[0].ID == rpc.NodeCheckID {
		t.Fatalf("an external node got checks %+v", checks)
	}

	agent := web("n2", "web-b", 80)
	agent.Sync, agent.NodeCheck = true, true
	a.must(agent)
	checks, _, _ := a.m.View().NodeChecks("n2")
	if len(checks) != 2 || checks[0].ID != rpc.NodeCheckID || checks[0].Status != rpc.HealthPassing || checks[0].Output != NodeAliveOutput {
		t.Fatalf("agent's node checks %+v", checks)
	}
	if got, _, _ := a.m.View().Health("web", "", true); !reflect.DeepEqual(names(got), []string{"n1/web-a", "n2/web-b"}) {
		t.Fatalf("passing instances %v", names(got))
	}

	a.must(&Command{Op: OpNodeFailed, Node: "n2"})
	a.must(agent)
	if got, _, _ := a.m.View().Health("web", "", true); !reflect.DeepEqual(names(got), []string{"n1/web-a"}) {
		t.Fatalf("an agent's register revived a failed node: %v", names(got))
	}
}

func TestSyncAndDeregister(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "web-a", 80))
	a.must(&Command{Op: OpRegister, Node: "n1", Services: []rpc.Service{{ID: "extra", Name: "extra"}},
		Checks: []rpc.Check{{ID: "extra-check", ServiceID: "extra", Status: rpc.HealthPassing}}})
	a.must(&Command{Op: OpNodeAlive, Node: "n1"})
	// A full sync with only web-a removes extra and its check, keeps the
	// gossip check.
	c := web("n1", "web-a", 80)
	c.Sync = true
	a.must(c)
	_, ss, _, _ := a.m.View().Node("n1")
	checks, _, _ := a.m.View().NodeChecks("n1")
	if len(ss) != 1 || ss[0].ID != "web-a" || len(checks) != 2 {
		t.Fatalf("after sync: services %+v checks %+v", ss, checks)
	}
	svcs, _, _ := a.m.View().Services()
	if _, ok := svcs["extra"]; ok {
		t.Fatal("extra still listed")
	}
	// Deregister the check, then the service, then the node.
	a.must(&Command{Op: OpDeregister, Node: "n1", CheckID: "service:web-a"})
	if checks, _, _ := a.m.View().NodeChecks("n1"); len(checks) != 1 {
		t.Fatalf("checks %+v", checks)
	}
	a.must(&Command{Op: OpDeregister, Node: "n1", ServiceID: "web-a"})
	if got, _, _ := a.m.View().Service("web", ""); len(got) != 0 {
		t.Fatalf("service still there: %+v", got)
	}
	_, _, idxBefore, watch := a.m.View().Node("n1")
	a.must(&Command{Op: OpDeregister, Node: "n1"})
	<-watch
	n, _, idx, _ := a.m.View().Node("n1")
	if n != nil || idx <= idxBefore {
		t.Fatalf("node after deregister: %+v index %d (before %d)", n, idx, idxBefore)
	}
	if checks, _, _ := a.m.View().ChecksInState(rpc.HealthAny); len(checks) != 0 {
		t.Fatalf("checks left: %+v", checks)
	}
}

func TestRegisterRules(t *testing.T) {
	tests := []struct {
		name string
		cmd  *Command
		want string
	}{
		{"no node", &Command{Op: OpRegister}, "names no node"},
		{"service without id", &Command{Op: OpRegister, Node: "n", Services: []rpc.Service{{Name: "x"}}}, "needs an id and a name"},
		{"check of unknown service", &Command{Op: OpRegister, Node: "n", Checks: []rpc.Check{{ID: "c", ServiceID: "nope", Status: rpc.HealthPassing}}}, `names service "nope"`},
		{"bad status", &Command{Op: OpRegister, Node: "n", Checks: []rpc.Check{{ID: "c", Status: "fine"}}}, `status "fine"`},
		{"check without id", &Command{Op: OpRegister, Node: "n", Checks: []rpc.Check{{Status: rpc.HealthPassing}}}, "has no id"},
		{"unknown op", &Command{Op: "explode", Node: "n"}, "unknown op"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newApplier(t)
			a.must(web("n1", "web-a", 80))
			before := a.m.View()
			r := a.apply(tc.cmd)
			if r.OK || !strings.Contains(r.Err, tc.want) {
				t.Fatalf("result %+v, want error containing %q", r, tc.want)
			}
			after := a.m.View()
			if after.nodes.Root() != before.nodes.Root() || after.services.Root() != before.services.Root() ||
				after.checks.Root() != before.checks.Root() || after.indexes.Root() != before.indexes.Root() {
				t.Fatal("a refused command changed the catalog")
			}
		})
	}
	// Garbage in the log is refused, not a panic.
	m := New()
	b := m.Begin()
	if r := b.Apply(1, []byte("{not json")); r.Err == "" {
		t.Fatal("garbage accepted")
	}
	b.Commit()
}

func TestRenameServiceMovesIt(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "x", 80))
	a.must(&Command{Op: OpRegister, Node: "n1", Services: []rpc.Service{{ID: "x", Name: "api", Port: 80}}})
	if got, _, _ := a.m.View().Service("web", ""); len(got) != 0 {
		t.Fatalf("old name still lists it: %+v", got)
	}
	got, _, _ := a.m.View().Health("api", "", true)
	if len(got) != 1 || got[0].Checks[0].ServiceName != "api" {
		t.Fatalf("new name: %+v", got)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "web-a", 80, "v1"))
	a.must(web("n2", "web-b", 81))
	a.must(&Command{Op: OpNodeAlive, Node: "n2"})
	a.must(&Command{Op: OpNodeFailed, Node: "n2"})
	a.must(&Command{Op: OpDeregister, Node: "n1", ServiceID: "web-a"})
	v := a.m.View()
	var buf bytes.Buffer
	if err := v.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	m2 := New()
	_, _, watch := m2.View().Nodes()
	if err := m2.RestoreSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watch:
	default:
		t.Fatal("restore did not wake watchers")
	}
	v2 := m2.View()
	if v2.Applied() != v.Applied() {
		t.Fatalf("applied %d, want %d", v2.Applied(), v.Applied())
	}
	for _, name := range []string{"web", "nope"} {
		h1, i1, _ := v.Health(name, "", false)
		h2, i2, _ := v2.Health(name, "", false)
		if !reflect.DeepEqual(h1, h2) || i1 != i2 {
			t.Fatalf("%s: %+v@%d vs %+v@%d", name, h1, i1, h2, i2)
		}
	}
	n1, _, _ := v.Nodes()
	n2, _, _ := v2.Nodes()
	if !reflect.DeepEqual(n1, n2) {
		t.Fatalf("nodes differ")
	}
	// Every truncation and every flipped byte is refused, state unchanged.
	data := buf.Bytes()
	for cut := 0; cut < len(data); cut += 7 {
		m3 := New()
		err := m3.RestoreSnapshot(bytes.NewReader(data[:cut]))
		if !errors.Is(err, ErrCorruptSnapshot) || m3.View().Applied() != 0 {
			t.Fatalf("truncated at %d: err %v", cut, err)
		}
	}
	for i := 0; i < len(data)-1; i += 5 {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		if err := New().RestoreSnapshot(bytes.NewReader(bad)); err == nil {
			// A flip inside the trailer's digits could in principle still
			// parse; anything before it must fail the checksum.
			if i < bytes.LastIndex(data[:len(data)-1], []byte("\n")) {
				t.Fatalf("flipped byte %d accepted", i)
			}
		}
	}
}

func TestBatchingIsDeterministic(t *testing.T) {
	cmds := []*Command{web("n1", "a", 1), web("n2", "b", 2), {Op: OpNodeAlive, Node: "n1"},
		{Op: OpUpdateChecks, Node: "n2", Status: []rpc.CheckStatus{{ID: "service:b", Status: rpc.HealthCritical}}},
		{Op: OpDeregister, Node: "n1", ServiceID: "a"}, {Op: OpNodeFailed, Node: "n2"}}
	one := New()
	b := one.Begin()
	for i, c := range cmds {
		b.Apply(uint64(i+1), c.Marshal())
	}
	b.Commit()
	each := New()
	for i, c := range cmds {
		b := each.Begin()
		b.Apply(uint64(i+1), c.Marshal())
		b.Commit()
	}
	var s1, s2 bytes.Buffer
	one.View().WriteSnapshot(&s1)
	each.View().WriteSnapshot(&s2)
	if !bytes.Equal(s1.Bytes(), s2.Bytes()) {
		t.Fatal("one batch and one batch per entry gave different states")
	}
}
