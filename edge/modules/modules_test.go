package modules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/edge/modules"
	"meridian/integration/fakeclock"
	"meridian/rpc"
	"meridian/server/servertest"
	"meridian/wasm"
)

func guest(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "wasm", "testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func submit(t *testing.T, c *servertest.Cluster, body []byte, name string) string {
	t.Helper()
	var res rpc.ModuleSubmitResult
	c.Call(t, 0, rpc.MethodModuleSubmit, rpc.ModuleSubmitParams{Module: body, Name: name}, &res)
	return res.Digest
}

// switchedNet is a fake network between the edge and the servers that
// can be cut.
type switchedNet struct {
	rpc.Transport
	down atomic.Bool
}

func (n *switchedNet) Forward(ctx context.Context, body []byte) ([]byte, error) {
	if n.down.Load() {
		return nil, fmt.Errorf("fake network down: %w", rpc.ErrUnavailable)
	}
	return n.Transport.Forward(ctx, body)
}

func newStore(t *testing.T, dir string, servers rpc.Transport, clock func() time.Time) *modules.Store {
	t.Helper()
	rt, err := wasm.New(context.Background(), wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	s, err := modules.New(modules.Config{Dir: dir, Runtime: rt, Servers: servers, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func run(t *testing.T, s *modules.Store, ref string) int {
	t.Helper()
	m, err := s.Module(context.Background(), ref)
	if err != nil {
		t.Fatalf("Module(%q): %v", ref, err)
	}
	return m.Run(context.Background(), wasm.Check{Name: "test"}).Status
}

func TestFetchKeepAndNames(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 1, KVShards: 1})
	passDigest := submit(t, c, guest(t, "pass"), "probe")
	dir := t.TempDir()
	clock := fakeclock.New(time.Unix(1000, 0))
	net := &switchedNet{Transport: c.APIs[0]}
	s := newStore(t, dir, net, clock.Now)

	if st := run(t, s, "probe"); st != wasm.Passing {
		t.Fatalf("probe status %d", st)
	}
	if _, err := os.Stat(filepath.Join(dir, passDigest+".wasm")); err != nil {
		t.Fatalf("module not kept on disk: %v", err)
	}
	if st := run(t, s, passDigest); st != wasm.Passing {
		t.Fatalf("by digest: status %d", st)
	}

	// The name moves to another module: seen once NameTTL has passed.
	critDigest := submit(t, c, guest(t, "crit"), "probe")
	if st := run(t, s, "probe"); st != wasm.Passing {
		t.Fatalf("within the TTL the old digest should be used, got %d", st)
	}
	clock.Add(11 * time.Second)
	if st := run(t, s, "probe"); st != wasm.Critical {
		t.Fatalf("after the TTL the moved name should run crit, got %d", st)
	}

	if _, err := s.Module(context.Background(), "missing"); err == nil || !strings.Contains(err.Error(), `no module named "missing"`) {
		t.Fatalf("unknown name: %v", err)
	}
	unknown := strings.Repeat("ab", 32)
	if _, err := s.Module(context.Background(), unknown); err == nil || !strings.Contains(err.Error(), "no module abababababab") {
		t.Fatalf("unknown digest: %v", err)
	}

	// Servers gone: a new store on the same directory runs the modules it
	// has on disk, and a name it resolved before keeps its last digest.
	clock.Add(11 * time.Second)
	net.down.Store(true)
	if st := run(t, s, "probe"); st != wasm.Critical {
		t.Fatalf("name with servers down: status %d", st)
	}
	s2 := newStore(t, dir, net, clock.Now)
	if st := run(t, s2, critDigest); st != wasm.Critical {
		t.Fatalf("from disk: status %d", st)
	}
	if _, err := s2.Module(context.Background(), "probe"); err == nil {
		t.Fatal("a name never resolved was resolved with the servers down")
	}
}

func TestCorruptFileIsFetchedAgain(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 1, KVShards: 1})
	d := submit(t, c, guest(t, "warn"), "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, d+".wasm"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, dir, c.APIs[0], nil)
	if st := run(t, s, d); st != wasm.Warning {
		t.Fatalf("status %d", st)
	}
	b, _ := os.ReadFile(filepath.Join(dir, d+".wasm"))
	if string(b) == "garbage" {
		t.Fatal("corrupt file not replaced")
	}
}
