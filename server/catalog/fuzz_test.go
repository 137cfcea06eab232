package catalog

import (
	"bytes"
	"testing"

	"meridian/rpc"
)

// FuzzApply: any log entry applies or is refused, never panics, and the
// state it leaves snapshots and restores to the same bytes.
func FuzzApply(f *testing.F) {
	for _, c := range []*Command{
		web("n1", "a", 80, "v1"),
		{Op: OpNodeAlive, Node: "n1"},
		{Op: OpNodeFailed, Node: "n1"},
		{Op: OpUpdateChecks, Node: "n1", Status: []rpc.CheckStatus{{ID: "service:a", Status: rpc.HealthCritical}}},
		{Op: OpDeregister, Node: "n1", ServiceID: "a"},
		{Op: OpRegister, Node: "n1", Sync: true},
	} {
		f.Add(c.Marshal())
	}
	f.Add([]byte(`{"v":1,"op":"register","node":"x","checks":[{"id":"c","status":"passing","service_id":"nope"}]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`garbage`))
	f.Fuzz(func(t *testing.T, cmd []byte) {
		m := New()
		b := m.Begin()
		b.Apply(1, web("n1", "a", 80).Marshal())
		b.Apply(2, cmd)
		b.Apply(3, cmd)
		b.Commit()
		var s1 bytes.Buffer
		if err := m.View().WriteSnapshot(&s1); err != nil {
			t.Fatal(err)
		}
		m2 := New()
		if err := m2.RestoreSnapshot(bytes.NewReader(s1.Bytes())); err != nil {
			t.Fatalf("restore: %v", err)
		}
		var s2 bytes.Buffer
		m2.View().WriteSnapshot(&s2)
		if !bytes.Equal(s1.Bytes(), s2.Bytes()) {
			t.Fatal("snapshot round trip changed the state")
		}
	})
}
