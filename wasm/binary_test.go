package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Modules of a few bytes that declare vectors of 2^32-1 entries, locals or
// bytes: wazero alone allocated for each of these counts before reading
// any entry, and the test process died of "fatal error: out of memory"
// (4 to 100 GB asked). They must be refused before wazero sees them.
func TestValidateRefusesOversizeDeclarations(t *testing.T) {
	rt := newRuntime(t, Config{MaxModuleBytes: 1 << 20})
	huge := uleb(1<<32 - 1)
	typ := section(1, uleb(1), []byte{0x60, 0, 1, 0x7f})
	fn := section(3, uleb(1), uleb(0))
	exp := section(7, uleb(1), uleb(5), []byte("check"), []byte{0, 0})
	code := func(body ...[]byte) []byte {
		b := concat(body...)
		return section(10, uleb(1), uleb(uint64(len(b))), b)
	}
	name := concat(uleb(4), []byte("name"))
	for _, tc := range []struct {
		name, msg string
		wasm      []byte
	}{
		{"locals", "section 10 (code), entry 0: declares more than 50000 locals in one function",
			module(typ, fn, exp, code(uleb(1), huge, []byte{0x7f, 0x41, 0, 0x0b}))},
		{"locals summed", "section 10 (code), entry 0: declares more than 50000 locals",
			module(typ, fn, exp, code(uleb(2), uleb(30000), []byte{0x7f}, uleb(30000), []byte{0x7e, 0x41, 0, 0x0b}))},
		{"function body", "section 10 (code), entry 0: declares 4294967295 bytes of a function body in 0 bytes",
			module(typ, fn, exp, section(10, uleb(1), huge))},
		{"code entries", "section 10 (code): declares 4294967295 entries in 0 bytes",
			module(typ, fn, exp, section(10, huge))},
		{"function entries", "section 3 (function): declares 4294967295 entries in 0 bytes",
			module(typ, section(3, huge))},
		{"element indices", "section 9 (element), entry 0: declares 4294967295 function indices in 0 bytes",
			module(section(9, uleb(1), []byte{0, 0x41, 0, 0x0b}, huge))},
		{"element expressions", "section 9 (element), entry 0: declares 4294967295 expressions in 0 bytes",
			module(section(9, uleb(1), []byte{5, 0x70}, huge))},
		{"function names", `section 0 (custom "name"): declares 4294967295 names in 0 bytes`,
			module(section(0, name, []byte{1}, uleb(5), huge))},
		{"local names", `section 0 (custom "name"): declares 4294967295 names in 0 bytes`,
			module(section(0, name, []byte{2}, uleb(7), uleb(1), uleb(0), huge))},
		{"type parameters", "section 1 (type), entry 0: declares 4294967295 value types in 0 bytes",
			module(section(1, uleb(1), []byte{0x60}, huge))},
		{"data bytes", "section 11 (data), entry 0: declares 4294967295 bytes of data in 0 bytes",
			module(section(11, uleb(1), []byte{1}, huge))},
		{"import name", "section 2 (import), entry 0: declares 4294967295 bytes of a name in 0 bytes",
			module(section(2, uleb(1), huge))},
		{"export name", "section 7 (export), entry 0: declares 4294967295 bytes of a name in 0 bytes",
			module(section(7, uleb(1), huge))},
		// A section longer than the module: found by FuzzValidate
		// (testdata/fuzz/FuzzValidate/fa8d7c89cd2cdf52).
		{"section size", "section 10 (code): declares 102739305 bytes, 5 remain in the module",
			[]byte("\x00asm\x01\x00\x00\x00\n\xe9\xda\xfe0\x99\x88\xef1\xdb")},
		{"custom section size", "section 0 (custom): declares 4294967295 bytes, 0 remain in the module",
			module([]byte{0}, huge)},
		{"constant expression", "section 6 (global), entry 0: opcode 0x01 in a constant expression",
			module(section(6, uleb(1), []byte{0x7f, 0, 0x01, 0x0b}))},
		{"past the section", "section 6 (global), entry 0: runs past the end of the section",
			module(section(6, uleb(1), []byte{0x7f, 0, 0x41}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Validate(context.Background(), tc.wasm)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrInvalidModule with %q", err, tc.msg)
			}
		})
	}
}

// Every module the tests and examples build (WAT, Go, AssemblyScript)
// reads through the structure and code readers: they must never refuse
// what compilers emit.
func TestWalkModuleReadsEveryGuest(t *testing.T) {
	var files []string
	for _, glob := range []string{"testdata/*.wasm", "examples/testdata/*.wasm"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("found %d modules: %v", len(files), files)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := walkModule(b)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for i, body := range f.bodies {
			if _, err := tablesGrown(body); err != nil {
				t.Errorf("%s: function body %d: %v", path, i, err)
			}
		}
	}
}

func TestValidateTables(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	for name, msg := range map[string]string{
		"table_grow": "wasm: function 0 grows table 0, which declares no maximum: declare one of at most 1048576 entries",
		"big_table":  "wasm: table 0 starts with 2097152 entries, more than the cap of 1048576",
	} {
		if _, err := rt.Validate(ctx, guest(t, name)); !errors.Is(err, ErrInvalidModule) || err.Error() != msg {
			t.Errorf("%s: err = %v, want %q", name, err, msg)
		}
	}
	// A table that grows within a small maximum is fine, and growing past
	// it fails inside the guest instead of allocating.
	if res := load(t, rt, "table_grow_max").Run(ctx, Check{}); res.Status != Passing {
		t.Fatalf("table_grow_max: %+v", res)
	}
}

func uleb(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func section(id byte, payload ...[]byte) []byte {
	p := concat(payload...)
	return concat([]byte{id}, uleb(uint64(len(p))), p)
}

func module(sections ...[]byte) []byte {
	return concat([]byte("\x00asm\x01\x00\x00\x00"), concat(sections...))
}

// Compilations beyond compileSlots wait for a slot, and give up when the
// caller's context ends.
func TestValidateWaitsForACompileSlot(t *testing.T) {
	rt := newRuntime(t, Config{})
	for range compileSlots {
		rt.compiling <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := rt.Validate(ctx, guest(t, "pass")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with every slot taken: err = %v, want the context's deadline", err)
	}
	<-rt.compiling
	if _, err := rt.Validate(context.Background(), guest(t, "pass")); err != nil {
		t.Fatalf("with a slot free: %v", err)
	}
}
