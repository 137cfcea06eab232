package raftnode

import (
	"io"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"meridian/server/kv"
)

// fsm adapts kv.Machine to dragonboat. It is deliberately thin: everything
// that matters is in kv, which is tested without Raft.
type fsm struct {
	m *kv.Machine
}

var _ sm.IConcurrentStateMachine = (*fsm)(nil)

func (f *fsm) Update(entries []sm.Entry) ([]sm.Entry, error) {
	b := f.m.Begin()
	for i := range entries {
		v, d := b.Apply(entries[i].Index, entries[i].Cmd).Encode()
		entries[i].Result = sm.Result{Value: v, Data: d}
	}
	b.Commit()
	return entries, nil
}

// Lookup returns the current immutable view; queries run on it outside the
// state machine, so Lookup never blocks.
func (f *fsm) Lookup(any) (any, error) { return f.m.View(), nil }

// PrepareSnapshot captures the immutable root under the update lock: O(1).
func (f *fsm) PrepareSnapshot() (any, error) { return f.m.View(), nil }

func (f *fsm) SaveSnapshot(ctx any, w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	return ctx.(*kv.View).WriteSnapshot(w)
}

func (f *fsm) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	return f.m.RestoreSnapshot(r)
}

func (f *fsm) Close() error { return nil }
