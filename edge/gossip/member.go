package gossip

import "strconv"

// State is a member's state as seen by the local member.
type State string

// Member states. memberlist v0.7.0 does not tell its delegates when it
// suspects a member, so members stay StateAlive until declared dead or left;
// StateSuspect is reserved for when it does.
const (
	StateAlive   State = "alive"
	StateSuspect State = "suspect"
	StateDead    State = "dead"
	StateLeft    State = "left"
)

// Member is one member of a pool.
type Member struct {
	Name  string
	Addr  string // gossip host:port
	Meta  Meta   // zero if the member's metadata did not decode
	State State
}

// EventKind tells what happened to a member.
type EventKind int

// Event kinds.
const (
	EventJoin   EventKind = iota + 1 // a member joined, or came back after it was dead or left
	EventUpdate                      // a member changed its metadata
	EventLeave                       // a member left gracefully (Pool.Leave)
	EventFailed                      // a member was declared dead by failure detection
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFailed:
		return "failed"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change in membership, as delivered to Config.Events.
type Event struct {
	Kind   EventKind
	Member Member
}
