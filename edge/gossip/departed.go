package gossip

import (
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// memberlist calls EventDelegate.NotifyLeave both for members that left and
// for members declared dead, and its documentation says to tell them apart
// by Node.State. In v0.7.0 that field is never set for event delegates: the
// real state lives in the unexported nodeState, whose own State field
// shadows the embedded Node's (hashicorp/memberlist issues #266 and #293,
// fix proposed in PR #321). NotifyLeave receives &nodeState.Node, so the
// state sits right after the Node in the same allocation.
//
// departedState trusts Node.State when memberlist sets it (a fixed
// version) and otherwise reads nodeState's State through nodeStateV070, a
// copy of the v0.7.0 layout. It is called only from NotifyLeave, where
// memberlist holds its node lock, so the read does not race. If the value
// read is not a departed state the layout has changed: the caller then
// reports a failure and logs it, and TestLeaveAndFail catches it.
type nodeStateV070 struct {
	memberlist.Node
	Incarnation uint32
	State       memberlist.NodeStateType
	StateChange time.Time
}

// departedState returns StateLeft or StateDead for a node passed to
// NotifyLeave, and false if it cannot tell.
func departedState(n *memberlist.Node) (State, bool) {
	st := n.State
	if st != memberlist.StateLeft && st != memberlist.StateDead {
		st = (*nodeStateV070)(unsafe.Pointer(n)).State
	}
	switch st {
	case memberlist.StateLeft:
		return StateLeft, true
	case memberlist.StateDead:
		return StateDead, true
	}
	return StateDead, false
}
