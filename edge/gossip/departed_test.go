package gossip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

// TestDepartedState covers both sources of the state; TestPoolLifecycle
// checks the layout of memberlist's own nodeState.
func TestDepartedState(t *testing.T) {
	for _, tc := range []struct {
		name        string
		node, outer memberlist.NodeStateType
		want        State
		ok          bool
	}{
		{"v0.7.0 left", memberlist.StateAlive, memberlist.StateLeft, StateLeft, true},
		{"v0.7.0 dead", memberlist.StateAlive, memberlist.StateDead, StateDead, true},
		{"fixed memberlist sets Node.State", memberlist.StateLeft, memberlist.StateAlive, StateLeft, true},
		{"cannot tell", memberlist.StateAlive, memberlist.StateSuspect, StateDead, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := &nodeStateV070{Node: memberlist.Node{Name: "n", State: tc.node}, State: tc.outer}
			got, ok := departedState(&ns.Node)
			if got != tc.want || ok != tc.ok {
				t.Errorf("departedState = %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// A leaving member tells every server directly (up to leaveServers): the
// catalog's writer is one of them, and if the leave's broadcast misses it,
// it reports the member failed, not gone.
func TestLeaveTargetsServersFirst(t *testing.T) {
	members := map[string]Member{"self": {Name: "self", Addr: "self:1", Meta: Meta{Role: RoleEdge}}}
	add := func(role Role, n int) {
		for range n {
			name := fmt.Sprintf("%s%d", role, len(members))
			members[name] = Member{Name: name, Addr: name + ":1", Meta: Meta{Role: role}}
		}
	}
	count := func(addrs []string) (servers, edges int) {
		for _, a := range addrs {
			if strings.HasPrefix(a, string(RoleServer)) {
				servers++
			} else {
				edges++
			}
			if a == "self:1" {
				t.Fatal("a member tells itself of its leave")
			}
		}
		return
	}
	add(RoleEdge, 20)
	if s, e := count(leaveTargets(members, "self")); s != 0 || e != leavePushPulls {
		t.Fatalf("no servers: %d servers, %d others told", s, e)
	}
	add(RoleServer, 1)
	if s, e := count(leaveTargets(members, "self")); s != 1 || e != leavePushPulls-1 {
		t.Fatalf("one server: %d servers, %d others told", s, e)
	}
	add(RoleServer, 10)
	for range 20 { // map order is random: every pick must hold
		if s, e := count(leaveTargets(members, "self")); s != leaveServers || e != 0 {
			t.Fatalf("eleven servers: %d servers, %d others told", s, e)
		}
	}
}
