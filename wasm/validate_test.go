package wasm

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	rt := newRuntime(t, Config{MaxModuleBytes: 1 << 20})
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		wasm    []byte // default: testdata/<name>.wasm
		err     error
		msg     string // substring of the error
		reactor bool
		imports []string
	}{
		{name: "pass"},
		{name: "output", imports: []string{"meridian.set_output"}},
		{name: "http", imports: []string{"meridian.args_len", "meridian.args_read", "meridian.set_output", "meridian.http_request"}},
		{name: "stdout", imports: []string{"wasi_snapshot_preview1.fd_write"}},
		{name: "counter", reactor: true},
		{name: "command"},
		{name: "bigmem"}, // valid: the check's limit applies when it runs
		{name: "shapes", imports: []string{"meridian.now_ms"}},
		{name: "table_grow_max"},
		{name: "bigmax", err: ErrInvalidModule, msg: "wasm: module declares a maximum memory of 65536 pages, more than the cap of 1024 pages (64 MiB)"},
		{name: "bad_import", err: ErrImport, msg: `wasm: import "env"."foo" is not part of the Meridian ABI v1`},
		{name: "bad_abi_sig", err: ErrImport, msg: `wasm: import "meridian"."log" has type (i32) -> (i32), the Meridian ABI v1 has (i32, i32, i32) -> (i32)`},
		{name: "wasi_fs", err: ErrImport, msg: `wasm: import "wasi_snapshot_preview1"."path_open" is not offered by the sandbox`},
		{name: "import_memory", err: ErrImport, msg: `wasm: import "env"."memory" is a memory`},
		{name: "no_check", err: ErrEntryPoint, msg: `wasm: module does not export a function "check"`},
		{name: "bad_check_sig", err: ErrEntryPoint, msg: `wasm: export "check" has type (i32) -> (i32), want () -> (i32)`},
		{name: "not wasm", wasm: []byte("#!/bin/sh\necho ok\n"), err: ErrNotWasm},
		{name: "empty", wasm: []byte{}, err: ErrNotWasm},
		{name: "bad version", wasm: []byte("\x00asm\x02\x00\x00\x00"), err: ErrNotWasm},
		{name: "truncated", wasm: guest(t, "output")[:40], err: ErrInvalidModule},
		// 2^32-ish code entries in a 6-byte section: wazero alone allocated
		// for the count and ran out of memory (found by FuzzValidate).
		{name: "huge vector", wasm: []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01`\x00\x01\x7f\x03\x02\x01\x00\a\t\x01\x05check\x00\x00\n\x06\xff\xff\xff\xff\x02\v"), err: ErrInvalidModule, msg: "section 10 (code): declares 805306367 entries in 1 bytes"},
		{name: "too large", wasm: append(append([]byte{}, guest(t, "pass")...), make([]byte, 1<<20)...), err: ErrTooLarge, msg: "the limit is 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := tc.wasm
			if wasm == nil {
				wasm = guest(t, tc.name)
			}
			info, err := rt.Validate(ctx, wasm)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if !strings.HasPrefix(err.Error(), "wasm: ") || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %q, want it to contain %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != len(wasm) || len(info.Digest) != 64 || info.ABIVersion != 1 || info.Reactor != tc.reactor {
				t.Fatalf("info = %+v", info)
			}
			if tc.imports != nil && strings.Join(info.Imports, ",") != strings.Join(tc.imports, ",") {
				t.Fatalf("imports = %v, want %v", info.Imports, tc.imports)
			}
		})
	}
}

func TestValidateMemoryCap(t *testing.T) {
	rt := newRuntime(t, Config{Caps: Limits{MemoryPages: 200}})
	_, err := rt.Validate(context.Background(), guest(t, "bigmem"))
	if !errors.Is(err, ErrInvalidModule) || err.Error() != "wasm: module needs 300 pages of memory to start, more than the cap of 200 pages (12800 KiB)" {
		t.Fatal(err)
	}
}

func TestLoadSharesModules(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	a, b := load(t, rt, "pass"), load(t, rt, "pass")
	if a != b {
		t.Fatal("two Loads of the same bytes gave two modules")
	}
	a.Close(ctx)
	if res := b.Run(ctx, Check{}); res.Status != Passing {
		t.Fatalf("after one of two Close: %+v", res)
	}
	b.Close(ctx)
	if res := b.Run(ctx, Check{}); res.Status != Critical || !strings.Contains(res.Output, "module closed") {
		t.Fatalf("after the last Close: %+v", res)
	}
	c := load(t, rt, "pass")
	if c == a {
		t.Fatal("Load after Close returned the closed module")
	}
	if res := c.Run(ctx, Check{}); res.Status != Passing {
		t.Fatalf("reloaded: %+v", res)
	}
}

func TestCompilationCacheDir(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i := range 2 {
		rt := newRuntime(t, Config{CacheDir: dir})
		m := load(t, rt, "output")
		if res := m.Run(ctx, Check{}); res.Status != Passing {
			t.Fatalf("run %d: %+v", i, res)
		}
		if err := rt.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rt.Close(ctx); err != nil {
			t.Fatal("second Close:", err)
		}
	}
	if entries := dirFiles(t, dir); entries == 0 {
		t.Fatal("nothing cached in CacheDir")
	}
}

func TestClosedRuntime(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	m := load(t, rt, "pass")
	rt.Close(ctx)
	if res := m.Run(ctx, Check{}); res.Status != Critical || !strings.Contains(res.Output, "runtime closed") {
		t.Fatalf("run on a closed runtime: %+v", res)
	}
	if _, err := rt.Load(ctx, guest(t, "warn")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load on a closed runtime: %v", err)
	}
	if _, err := rt.Validate(ctx, guest(t, "warn")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Validate on a closed runtime: %v", err)
	}
}

func TestConfig(t *testing.T) {
	if err := (Config{Caps: Limits{MemoryPages: 70000}}).Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("pages above 65536: %v", err)
	}
	c := Config{Caps: Limits{MemoryPages: 100, MaxOutput: 1000}}.withDefaults()
	if c.Defaults.MemoryPages != 100 || c.Defaults.MaxOutput != 1000 || c.Defaults.Timeout != defaultTimeout {
		t.Fatalf("defaults not lowered to caps: %+v", c.Defaults)
	}
	lim := Limits{MemoryPages: 5000, Timeout: -1}.or(c.Defaults).min(c.Caps)
	if lim.MemoryPages != 100 || lim.Timeout != defaultTimeout {
		t.Fatalf("limits = %+v", lim)
	}
	var in Config
	_ = in.withDefaults()
	if in.Logger != nil || in.Defaults != (Limits{}) {
		t.Fatal("withDefaults wrote into the caller's Config")
	}
}

func dirFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
