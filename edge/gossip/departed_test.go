package gossip

import (
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
