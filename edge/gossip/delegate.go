package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. memberlist calls the
// EventDelegate methods with its node lock held, one at a time, so the
// member table and the event queue see changes in memberlist's order.
type delegate struct{ p *Pool }

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate  = (*delegate)(nil)
)

func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete records the round trip of a direct probe of other,
// smoothed (an exponentially weighted mean, 1/4 to the new sample) so that
// one slow probe does not reorder datacenters.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, _ []byte) {
	p := d.p
	p.rttMu.Lock()
	defer p.rttMu.Unlock()
	if old, ok := p.rtts[other.Name]; ok {
		rtt = old + (rtt-old)/4
	}
	p.rtts[other.Name] = rtt
}

// NodeMeta returns the encoded local metadata, validated to fit limit.
func (d *delegate) NodeMeta(limit int) []byte {
	d.p.metaMu.Lock()
	defer d.p.metaMu.Unlock()
	if len(d.p.metaRaw) > limit { // cannot happen: limit is MetaMaxSize
		return nil
	}
	return d.p.metaRaw
}

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.p.observe(EventJoin, n, StateAlive) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.p.observe(EventUpdate, n, StateAlive) }

func (d *delegate) NotifyLeave(n *memberlist.Node) {
	st, ok := departedState(n)
	if !ok {
		d.p.logger.Warn("cannot tell whether member left or failed; reporting a failure", "member", n.Name)
	}
	kind := EventFailed
	if st == StateLeft {
		kind = EventLeave
	}
	d.p.observe(kind, n, st)
}

// observe records a change to member n in the table and queues its event.
func (p *Pool) observe(kind EventKind, n *memberlist.Node, st State) {
	m := Member{Name: n.Name, Addr: n.Address(), State: st}
	if meta, err := DecodeMeta(n.Meta); err != nil {
		p.logger.Debug("member metadata does not decode", "member", n.Name, "err", err)
	} else {
		m.Meta = meta
	}
	p.mu.Lock()
	if st == StateAlive {
		p.members[m.Name] = Member{Name: m.Name, Addr: m.Addr, Meta: m.Meta.clone(), State: st}
	} else {
		delete(p.members, m.Name)
		p.rttMu.Lock()
		delete(p.rtts, m.Name)
		p.rttMu.Unlock()
	}
	stopping := p.stopping
	p.mu.Unlock()
	if p.events != nil && !stopping {
		p.events.push(Event{Kind: kind, Member: m})
	}
}
