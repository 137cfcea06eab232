package server

import (
	"io"

	"meridian/server/catalog"
	"meridian/server/kv"
	"meridian/server/raftnode"
	"meridian/server/shard"
)

// newMachine gives each shard its state machine: the catalog on the
// system shard, the KV store on the others.
func newMachine(id shard.ID) raftnode.Machine {
	if id == shard.System {
		return catalogMachine{catalog.New()}
	}
	return kvMachine{kv.New()}
}

// kvMachine adapts kv.Machine to raftnode: one Batch per Update, so a
// burst of concurrent puts costs one state swap and one round of watch
// notifications.
type kvMachine struct{ m *kv.Machine }

func (k kvMachine) Update(entries []raftnode.Entry) { update(k.m.Begin(), entries) }

func (k kvMachine) View() any       { return k.m.View() }
func (k kvMachine) Applied() uint64 { return k.m.View().Index() }
func (k kvMachine) WriteSnapshot(v any, w io.Writer) error {
	return v.(*kv.View).WriteSnapshot(w)
}
func (k kvMachine) RestoreSnapshot(r io.Reader) error { return k.m.RestoreSnapshot(r) }

// catalogMachine adapts catalog.Machine to raftnode.
type catalogMachine struct{ m *catalog.Machine }

func (c catalogMachine) Update(entries []raftnode.Entry) { update(c.m.Begin(), entries) }

// batch is what update needs of a machine's write batch.
type batch[R interface{ Encode() (uint64, []byte) }] interface {
	Apply(index uint64, cmd []byte) R
	Commit()
}

// update applies entries through one batch and records each result.
func update[R interface{ Encode() (uint64, []byte) }](b batch[R], entries []raftnode.Entry) {
	for i := range entries {
		v, d := b.Apply(entries[i].Index, entries[i].Cmd).Encode()
		entries[i].Result = raftnode.Result{Value: v, Data: d}
	}
	b.Commit()
}

func (c catalogMachine) View() any       { return c.m.View() }
func (c catalogMachine) Applied() uint64 { return c.m.View().Applied() }
func (c catalogMachine) WriteSnapshot(v any, w io.Writer) error {
	return v.(*catalog.View).WriteSnapshot(w)
}
func (c catalogMachine) RestoreSnapshot(r io.Reader) error { return c.m.RestoreSnapshot(r) }
