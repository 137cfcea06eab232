// Package modules is an edge's store of WASM check modules: it fetches a
// module from the servers the first time a check needs it, keeps its bytes
// on disk (so a restart, or a time without servers, needs no fetch), and
// keeps it compiled in the edge's wasm.Runtime. It is the checks runner's
// ModuleSource.
//
//	store, _ := modules.New(modules.Config{Dir: dataDir + "/modules", Runtime: rt, Servers: set})
//	m, err := store.Module(ctx, "http-probe") // a name or a sha256 digest
//
// A name is resolved to a digest through the servers and the answer kept
// for NameTTL, so a name moved to a new module is picked up within that
// time; if the servers cannot be reached, the last known digest is used.
package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"meridian/rpc"
	"meridian/server/atomicfile"
	"meridian/wasm"
)

// Config of a Store.
type Config struct {
	// Dir keeps module files, <digest>.wasm; "" keeps them in memory only.
	Dir string
	// Runtime compiles and runs the modules. Required.
	Runtime *wasm.Runtime
	// Servers answers checks.module.get. Required.
	Servers rpc.Transport
	// NameTTL is how long a name's digest is used before asking again
	// (default 10 s).
	NameTTL time.Duration
	// Clock is the time source of NameTTL (default time.Now).
	Clock  func() time.Time
	Logger *slog.Logger
}

// Store is the edge's modules. Safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	loaded  map[string]*wasm.Module // by digest
	names   map[string]resolved
	loading map[string]*sync.Mutex // one fetch per digest at a time
	closed  bool
}

type resolved struct {
	digest string
	at     time.Time
}

// New returns a Store; it makes Dir if needed.
func New(cfg Config) (*Store, error) {
	if cfg.Runtime == nil || cfg.Servers == nil {
		return nil, errors.New("modules: Runtime and Servers are required")
	}
	if cfg.NameTTL <= 0 {
		cfg.NameTTL = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("modules: %w", err)
		}
	}
	return &Store{cfg: cfg, log: cfg.Logger, loaded: map[string]*wasm.Module{},
		names: map[string]resolved{}, loading: map[string]*sync.Mutex{}}, nil
}

// Module returns the loaded module ref designates: a digest, or a name
// resolved through the servers. The Store owns the module.
func (s *Store) Module(ctx context.Context, ref string) (*wasm.Module, error) {
	digest, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.load(ctx, digest)
}

// Resolve returns the digest ref designates now.
func (s *Store) Resolve(ctx context.Context, ref string) (string, error) {
	if rpc.IsModuleDigest(ref) {
		return ref, nil
	}
	if err := rpc.ValidateModuleRef("module", ref); err != nil {
		return "", err
	}
	now := s.cfg.Clock()
	s.mu.Lock()
	r, ok := s.names[ref]
	s.mu.Unlock()
	if ok && now.Sub(r.at) < s.cfg.NameTTL {
		return r.digest, nil
	}
	got, err := s.get(ctx, ref, false)
	switch {
	case err == nil:
		if r.digest != "" && r.digest != got.Digest {
			s.log.Info("module name moved", "name", ref, "from", short(r.digest), "to", short(got.Digest))
		}
		s.mu.Lock()
		s.names[ref] = resolved{digest: got.Digest, at: now}
		s.mu.Unlock()
		return got.Digest, nil
	case errors.Is(err, rpc.ErrNotFound):
		s.mu.Lock()
		delete(s.names, ref)
		s.mu.Unlock()
		return "", rpc.ErrNotFoundf("no module named %q", ref)
	case ok:
		// Servers unreachable: keep running what the name last meant.
		s.log.Warn("cannot resolve module name, using the last known digest", "name", ref, "digest", short(r.digest), "err", err)
		return r.digest, nil
	default:
		return "", fmt.Errorf("resolve module name %q: %w", ref, err)
	}
}

// load returns the compiled module of digest: from memory, else from
// disk, else fetched from the servers.
func (s *Store) load(ctx context.Context, digest string) (*wasm.Module, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, wasm.ErrClosed
	}
	if m := s.loaded[digest]; m != nil {
		s.mu.Unlock()
		return m, nil
	}
	l := s.loading[digest]
	if l == nil {
		l = &sync.Mutex{}
		s.loading[digest] = l
	}
	s.mu.Unlock()

	l.Lock()
	defer l.Unlock()
	s.mu.Lock()
	m := s.loaded[digest]
	s.mu.Unlock()
	if m != nil {
		return m, nil
	}
	body, err := s.readFile(digest)
	if err != nil {
		if body, err = s.fetch(ctx, digest); err != nil {
			return nil, err
		}
	}
	m, err = s.cfg.Runtime.Load(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("load module %s: %w", short(digest), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = m.Close(context.Background())
		return nil, wasm.ErrClosed
	}
	s.loaded[digest] = m
	delete(s.loading, digest)
	return m, nil
}

// readFile returns the module's bytes from disk, if there and intact.
func (s *Store) readFile(digest string) ([]byte, error) {
	if s.cfg.Dir == "" {
		return nil, os.ErrNotExist
	}
	p := filepath.Join(s.cfg.Dir, digest+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if sum(b) != digest {
		s.log.Warn("module file does not match its digest; fetching it again", "path", p)
		_ = os.Remove(p)
		return nil, errors.New("corrupt module file")
	}
	return b, nil
}

// fetch gets the module from the servers and keeps it on disk.
func (s *Store) fetch(ctx context.Context, digest string) ([]byte, error) {
	got, err := s.get(ctx, digest, true)
	if errors.Is(err, rpc.ErrNotFound) {
		return nil, rpc.ErrNotFoundf("no module %s on the servers", short(digest))
	}
	if err != nil {
		return nil, fmt.Errorf("fetch module %s: %w", short(digest), err)
	}
	if sum(got.Body) != digest {
		return nil, fmt.Errorf("fetch module %s: the servers sent bytes of another digest", short(digest))
	}
	s.log.Debug("module fetched", "digest", short(digest), "size", len(got.Body))
	if s.cfg.Dir != "" {
		if err := atomicfile.Write(filepath.Join(s.cfg.Dir, digest+".wasm"), got.Body, 0o600); err != nil {
			s.log.Warn("cannot keep module on disk", "digest", short(digest), "err", err)
		}
	}
	return got.Body, nil
}

// get asks the servers for a module: a stale read first (any server
// answers from its replica), and when that does not know the module, a
// linearizable one, so a module submitted a moment ago through another
// server is found.
func (s *Store) get(ctx context.Context, ref string, body bool) (*rpc.ModuleGetResult, error) {
	var got rpc.ModuleGetResult
	p := rpc.ModuleGetParams{Module: ref, WithBody: body, ReadOptions: rpc.ReadOptions{Consistency: rpc.ConsistencyStale}}
	err := rpc.Invoke(ctx, s.cfg.Servers, rpc.MethodModuleGet, p, &got)
	if errors.Is(err, rpc.ErrNotFound) {
		p.Consistency = rpc.ConsistencyDefault
		got = rpc.ModuleGetResult{}
		err = rpc.Invoke(ctx, s.cfg.Servers, rpc.MethodModuleGet, p, &got)
	}
	if err != nil {
		return nil, err
	}
	return &got, nil
}

// Loaded lists the digests of the compiled modules.
func (s *Store) Loaded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.loaded))
	for d := range s.loaded {
		out = append(out, d)
	}
	return out
}

// Close releases every module. Module fails afterwards.
func (s *Store) Close(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	loaded := s.loaded
	s.loaded = map[string]*wasm.Module{}
	s.mu.Unlock()
	for _, m := range loaded {
		_ = m.Close(ctx)
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
