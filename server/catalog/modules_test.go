package catalog

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"meridian/rpc"
)

func modulePut(body, name string) *Command {
	return &Command{Op: OpModulePut, ModuleName: name,
		Module: &ModulePayload{Digest: Digest([]byte(body)), ABI: 1, Body: []byte(body)}}
}

func TestModulePutGetAndNames(t *testing.T) {
	a := newApplier(t)
	r := a.must(modulePut("module one", "probe"))
	if r.Existed {
		t.Fatal("first put reports the module as existing")
	}
	d1 := Digest([]byte("module one"))
	if r := a.must(modulePut("module one", "")); !r.Existed {
		t.Fatal("second put of the same bytes does not report it as existing")
	}

	m, names, _, _ := a.m.View().Module("probe")
	if m == nil || m.Digest != d1 || string(m.Body) != "module one" || m.Size != len("module one") {
		t.Fatalf("Module(probe) = %+v", m)
	}
	if !slices.Equal(names, []string{"probe"}) {
		t.Fatalf("names = %v", names)
	}

	// Moving the name to a new module: the name follows, the old stays.
	a.must(modulePut("module two", "probe"))
	d2 := Digest([]byte("module two"))
	if m, _, _, _ := a.m.View().Module("probe"); m == nil || m.Digest != d2 {
		t.Fatalf("probe after move = %+v, want %s", m, d2)
	}
	list, _, _ := a.m.View().Modules()
	if len(list) != 2 {
		t.Fatalf("Modules() = %+v", list)
	}
	for _, m := range list {
		if m.Digest == d1 && len(m.Names) != 0 || m.Digest == d2 && !slices.Equal(m.Names, []string{"probe"}) {
			t.Fatalf("names after move: %+v", list)
		}
	}
	if m, _, _, _ := a.m.View().Module("nothing"); m != nil {
		t.Fatal("unknown name found")
	}
}

func TestModulePutRefusesWrongDigest(t *testing.T) {
	a := newApplier(t)
	c := modulePut("real bytes", "")
	c.Module.Digest = Digest([]byte("other bytes"))
	if r := a.apply(c); r.Err == "" || !strings.Contains(r.Err, "not the sha256") {
		t.Fatalf("wrong digest accepted: %+v", r)
	}
	if list, _, _ := a.m.View().Modules(); len(list) != 0 {
		t.Fatalf("stored anyway: %+v", list)
	}
}

func TestModuleDeleteInUse(t *testing.T) {
	a := newApplier(t)
	a.must(modulePut("wasm bytes", "probe"))
	d := Digest([]byte("wasm bytes"))
	a.must(&Command{Op: OpRegister, Node: "n1",
		Services: []rpc.Service{{ID: "web", Name: "web"}},
		Checks:   []rpc.Check{{ID: "c1", ServiceID: "web", Status: rpc.HealthPassing, Kind: rpc.CheckWASM, Module: "probe"}}})

	for _, ref := range []string{d, "probe"} {
		r := a.apply(&Command{Op: OpModuleDelete, ModuleRef: ref})
		if !strings.HasPrefix(r.Err, ErrModuleInUse) || !strings.Contains(r.Err, "n1/c1") {
			t.Fatalf("delete %s of a used module: %+v", ref, r)
		}
	}
	if m, _, _, _ := a.m.View().Module(d); m == nil {
		t.Fatal("refused delete removed the module")
	}
	// Removing only the name is allowed (the check then names nothing).
	a.must(&Command{Op: OpModuleDelete, ModuleRef: "probe", NameOnly: true})
	if m, _, _, _ := a.m.View().Module("probe"); m != nil {
		t.Fatal("name still there")
	}
	a.must(&Command{Op: OpModuleDelete, ModuleRef: d, Force: true})
	if m, _, _, _ := a.m.View().Module(d); m != nil {
		t.Fatal("forced delete kept the module")
	}
	if r := a.apply(&Command{Op: OpModuleDelete, ModuleRef: d}); !strings.HasPrefix(r.Err, ErrModuleNotFound) {
		t.Fatalf("delete of a missing module: %+v", r)
	}
}

func TestModuleWatchAndSnapshot(t *testing.T) {
	a := newApplier(t)
	a.must(web("n1", "web-a", 80))
	_, idx0, w := a.m.View().Modules()
	a.must(modulePut("abc", "n1"))
	select {
	case <-w:
	default:
		t.Fatal("module list watch did not fire on a put")
	}
	_, idx1, _ := a.m.View().Modules()
	if idx1 <= idx0 {
		t.Fatalf("index did not move: %d -> %d", idx0, idx1)
	}

	var buf bytes.Buffer
	if err := a.m.View().WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	m2 := New()
	if err := m2.RestoreSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	m, names, _, _ := m2.View().Module("n1")
	if m == nil || string(m.Body) != "abc" || !slices.Equal(names, []string{"n1"}) {
		t.Fatalf("restored module = %+v %v", m, names)
	}
	// A body altered in the snapshot is caught even if the CRC were right.
	bad := bytes.Replace(buf.Bytes(), []byte(`"body":"YWJj"`), []byte(`"body":"YWJk"`), 1)
	if bytes.Equal(bad, buf.Bytes()) {
		t.Fatal("test did not alter the snapshot")
	}
	if err := New().RestoreSnapshot(bytes.NewReader(bad)); err == nil {
		t.Fatal("altered snapshot restored")
	}
}
