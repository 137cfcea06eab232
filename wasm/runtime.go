package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Runtime runs health-check modules in a wazero sandbox. It compiles each
// module once (Load), keeps compiled code in Config.CacheDir, and is safe
// for concurrent use. Close it when done.
type Runtime struct {
	cfg Config
	log *slog.Logger
	wr  wazero.Runtime

	cache    wazero.CompilationCache // nil when compiled code stays in memory
	wasiSigs map[string]string       // WASI function name -> signature
	http     *http.Client
	dialer   *net.Dialer
	resolver *net.Resolver

	closed    atomic.Bool
	compiling chan struct{} // one token per compilation in progress
	mu        sync.Mutex
	modules   map[string]*Module // loaded modules by digest
}

// compileSlots bounds the compilations in progress. wazero needs about 70
// times a module's size while compiling it (a module of 8.3 MB made of
// 1.39 million tiny functions: a 579 MiB heap and 5.5 s), so many uploads
// at once must not compile at once.
const compileSlots = 2

// ModuleInfo describes a valid module.
type ModuleInfo struct {
	Digest      string   // hex SHA-256 of the module bytes
	Size        int      // bytes
	ABIVersion  int      // the Meridian ABI version it was validated against
	Imports     []string // "module.name" of every imported function, in order
	Reactor     bool     // exports _initialize, run once per instance
	MemoryPages uint32   // initial size of the memory it defines, in pages
}

// New starts a Runtime: wazero with its compiler where the platform has
// one (the interpreter elsewhere), a module stopped when its context is
// done, memory capped at Caps.MemoryPages, and the "meridian" and
// wasi_snapshot_preview1 host modules.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Runtime{
		cfg:      cfg,
		log:      cfg.Logger,
		dialer:   &net.Dialer{},
		resolver: net.DefaultResolver,
		modules:  make(map[string]*Module),

		compiling: make(chan struct{}, compileSlots),
	}
	// The compiler where the platform has one, else the interpreter.
	// wazero's memory limit is one page above the cap: a module that
	// declares no maximum then grows into our allocator's limit
	// (memoryLimiter), which tells a refused memory.grow apart from the
	// module reaching the maximum it declared itself.
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(min(cfg.Caps.MemoryPages+1, maxPages))
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	r.wr = wazero.NewRuntimeWithConfig(ctx, rc)
	r.http = r.newHTTPClient()
	if err := r.instantiateWASI(ctx); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("wasm: WASI host module: %w", err)
	}
	if err := r.instantiateHost(ctx); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("wasm: meridian host module: %w", err)
	}
	return r, nil
}

func (r *Runtime) instantiateWASI(ctx context.Context) error {
	compiled, err := wasi_snapshot_preview1.NewBuilder(r.wr).Compile(ctx)
	if err != nil {
		return err
	}
	r.wasiSigs = make(map[string]string)
	for name, def := range compiled.ExportedFunctions() {
		r.wasiSigs[name] = signature(def.ParamTypes(), def.ResultTypes())
	}
	_, err = r.wr.InstantiateModule(ctx, compiled, wazero.NewModuleConfig())
	return err
}

// Close stops the Runtime at once: running checks are stopped (they end
// critical), modules and instances are released. Safe to call twice.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return nil
	}
	mods := r.modules
	r.modules = nil
	r.mu.Unlock()
	for _, m := range mods {
		m.shutdown(ctx)
	}
	err := r.wr.Close(ctx)
	if r.cache != nil {
		if cerr := r.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	r.http.CloseIdleConnections()
	return err
}

// Validate compiles the module and checks it against the sandbox: its
// size, that it imports only functions of the Meridian ABI (with their
// signatures) and allowed WASI functions, and that it exports `check` of
// type () -> i32. The error names what is wrong and wraps one of
// ErrTooLarge, ErrNotWasm, ErrInvalidModule, ErrImport, ErrEntryPoint.
func (r *Runtime) Validate(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	compiled, info, err := r.compile(ctx, wasm)
	if err != nil {
		return ModuleInfo{}, err
	}
	compiled.Close(ctx)
	return info, nil
}

// Load validates and compiles a module, once: loading the same bytes again
// returns the same *Module (compiled code is shared) until every Load is
// matched by a Module.Close.
func (r *Runtime) Load(ctx context.Context, wasm []byte) (*Module, error) {
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	if m := r.loaded(digest); m != nil {
		return m, nil
	}
	compiled, info, err := r.compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		compiled.Close(ctx)
		return nil, ErrClosed
	}
	if m := r.modules[digest]; m != nil && m.ref() {
		compiled.Close(ctx) // lost a race with another Load
		return m, nil
	}
	m := &Module{rt: r, info: info, short: digest[:12], compiled: compiled, refs: 1}
	r.modules[digest] = m
	return m, nil
}

func (r *Runtime) loaded(digest string) *Module {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.modules[digest]; m != nil && m.ref() {
		return m
	}
	return nil
}

func (r *Runtime) forget(m *Module) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.modules[m.info.Digest] == m {
		delete(r.modules, m.info.Digest)
	}
}

var wasmMagic = []byte("\x00asm")

// compile validates and compiles; the caller owns the CompiledModule.
func (r *Runtime) compile(ctx context.Context, wasm []byte) (compiled wazero.CompiledModule, info ModuleInfo, err error) {
	if r.closed.Load() {
		return nil, info, ErrClosed
	}
	if len(wasm) > r.cfg.MaxModuleBytes {
		return nil, info, detailf(ErrTooLarge, fmt.Sprintf("module is %d bytes, the limit is %d", len(wasm), r.cfg.MaxModuleBytes))
	}
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil, info, detailf(ErrNotWasm, "not a WebAssembly module (no \\0asm header)")
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}) {
		return nil, info, detailf(ErrNotWasm, "not a WebAssembly 1.0 binary module (bad version)")
	}
	// Read the module's structure first: wazero allocates for the counts a
	// module declares before reading what they count (see binary.go).
	// This also explains memory sizes wazero would refuse with its own,
	// less clear, words.
	facts, err := walkModule(wasm)
	if err != nil {
		return nil, info, detailf(ErrInvalidModule, "invalid module: "+err.Error())
	}
	if facts.hasMem {
		if err := r.checkMemory(facts); err != nil {
			return nil, info, err
		}
	}
	select {
	case r.compiling <- struct{}{}:
	case <-ctx.Done():
		return nil, info, ctx.Err()
	}
	func() {
		defer func() {
			<-r.compiling
			if p := recover(); p != nil {
				err = fmt.Errorf("compiler panic: %v", p)
			}
		}()
		compiled, err = r.wr.CompileModule(ctx, wasm)
	}()
	if err != nil {
		if ctx.Err() != nil {
			return nil, info, ctx.Err()
		}
		if r.closed.Load() {
			return nil, info, ErrClosed
		}
		return nil, info, detailf(ErrInvalidModule, "invalid module: "+err.Error())
	}
	info, err = r.inspect(compiled, wasm, facts)
	if err != nil {
		compiled.Close(ctx)
		return nil, info, err
	}
	return compiled, info, nil
}

// inspect checks a compiled module's imports and exports.
func (r *Runtime) inspect(compiled wazero.CompiledModule, wasm []byte, facts binaryFacts) (ModuleInfo, error) {
	sum := sha256.Sum256(wasm)
	info := ModuleInfo{Digest: hex.EncodeToString(sum[:]), Size: len(wasm), ABIVersion: ABIVersion}
	for _, e := range facts.imports {
		if e.kind != kindFunc {
			return info, detailf(ErrImport, fmt.Sprintf("import %q.%q is a %s; a module may import only functions of the Meridian ABI v1 and of WASI",
				e.module, e.name, kindName(e.kind)))
		}
	}
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if err := r.checkImport(mod, name, signature(def.ParamTypes(), def.ResultTypes())); err != nil {
			return info, err
		}
		info.Imports = append(info.Imports, mod+"."+name)
	}
	exports := compiled.ExportedFunctions()
	check, ok := exports["check"]
	if !ok {
		return info, detailf(ErrEntryPoint, `module does not export a function "check" (type () -> (i32))`)
	}
	if sig := signature(check.ParamTypes(), check.ResultTypes()); sig != "() -> (i32)" {
		return info, detailf(ErrEntryPoint, fmt.Sprintf(`export "check" has type %s, want () -> (i32)`, sig))
	}
	if init, ok := exports["_initialize"]; ok {
		if sig := signature(init.ParamTypes(), init.ResultTypes()); sig != "() -> ()" {
			return info, detailf(ErrEntryPoint, fmt.Sprintf(`export "_initialize" has type %s, want () -> ()`, sig))
		}
		info.Reactor = true
	}
	if facts.hasMem {
		if err := r.checkMemory(facts); err != nil {
			return info, err
		}
		info.MemoryPages = facts.memMin
	}
	if err := checkTables(facts); err != nil {
		return info, err
	}
	return info, nil
}

// checkMemory refuses a memory that starts above Caps.MemoryPages or
// declares a maximum above it.
func (r *Runtime) checkMemory(f binaryFacts) error {
	c := r.cfg.Caps.MemoryPages
	switch {
	case f.memMin > c:
		return detailf(ErrInvalidModule, fmt.Sprintf("module needs %d pages of memory to start, more than the cap of %d pages (%s)",
			f.memMin, c, pagesSize(c)))
	case f.memHasMax && f.memMax > c:
		return detailf(ErrInvalidModule, fmt.Sprintf("module declares a maximum memory of %d pages, more than the cap of %d pages (%s): declare none or at most %d",
			f.memMax, c, pagesSize(c), c))
	}
	return nil
}

func (r *Runtime) checkImport(mod, name, sig string) error {
	switch mod {
	case HostModule:
		for _, h := range abiV1 {
			if h.name == name {
				if want := signature(h.paramTypes(), h.results); sig != want {
					return detailf(ErrImport, fmt.Sprintf("import %q.%q has type %s, the Meridian ABI v1 has %s", mod, name, sig, want))
				}
				return nil
			}
		}
	case wasi_snapshot_preview1.ModuleName:
		if !allowedWASI[name] {
			return detailf(ErrImport, fmt.Sprintf("import %q.%q is not offered by the sandbox (no filesystem, environment or sockets; allowed WASI functions: %s)",
				mod, name, strings.Join(allowedWASIList(), ", ")))
		}
		if want := r.wasiSigs[name]; sig != want {
			return detailf(ErrImport, fmt.Sprintf("import %q.%q has type %s, WASI preview1 has %s", mod, name, sig, want))
		}
		return nil
	}
	return detailf(ErrImport, fmt.Sprintf("import %q.%q is not part of the Meridian ABI v1", mod, name))
}

func allowedWASIList() []string {
	s := make([]string, 0, len(allowedWASI))
	for n := range allowedWASI {
		s = append(s, n)
	}
	sort.Strings(s)
	return s
}
