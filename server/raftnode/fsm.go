package raftnode

import (
	"io"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Machine is a shard's pure state machine, as the host drives it. The
// host knows nothing of what the commands mean: package server adapts
// the kv and catalog machines to this interface.
type Machine interface {
	// Update applies committed commands in log order and sets each
	// entry's Result. Calls never overlap.
	Update(entries []Entry)
	// View returns the current immutable state. It never blocks, and it
	// is what Read, StaleRead and snapshots see.
	View() any
	// Applied is the index of the last entry applied.
	Applied() uint64
	// WriteSnapshot streams a view taken by View; it runs beside Update.
	WriteSnapshot(view any, w io.Writer) error
	// RestoreSnapshot replaces the state.
	RestoreSnapshot(r io.Reader) error
}

// Entry is one committed command and the machine's answer to it.
type Entry struct {
	Index  uint64
	Cmd    []byte
	Result Result
}

// Result is what the machine made of a command; Propose returns it.
type Result struct {
	Value uint64
	Data  []byte
}

// fsm adapts a Machine to dragonboat. It is deliberately thin: everything
// that matters is in the machines, which are tested without Raft.
type fsm struct {
	m   Machine
	buf []Entry // reused: Update calls never overlap
}

var _ sm.IConcurrentStateMachine = (*fsm)(nil)

func (f *fsm) Update(entries []sm.Entry) ([]sm.Entry, error) {
	f.buf = f.buf[:0]
	for i := range entries {
		f.buf = append(f.buf, Entry{Index: entries[i].Index, Cmd: entries[i].Cmd})
	}
	f.m.Update(f.buf)
	for i := range entries {
		r := f.buf[i].Result
		entries[i].Result = sm.Result{Value: r.Value, Data: r.Data}
		f.buf[i] = Entry{}
	}
	return entries, nil
}

// Lookup returns the current immutable view; queries run on it outside the
// state machine, so Lookup never blocks.
func (f *fsm) Lookup(any) (any, error) { return f.m.View(), nil }

// PrepareSnapshot captures the immutable state under the update lock: O(1).
func (f *fsm) PrepareSnapshot() (any, error) { return f.m.View(), nil }

func (f *fsm) SaveSnapshot(ctx any, w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	return f.m.WriteSnapshot(ctx, w)
}

func (f *fsm) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	return f.m.RestoreSnapshot(r)
}

func (f *fsm) Close() error { return nil }
