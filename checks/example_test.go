package checks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"meridian/checks"
	"meridian/rpc"
	"meridian/wasm"
)

func ExampleValidate() {
	err := checks.Validate(rpc.CheckDefinition{
		ID:       "web",
		Name:     "web",
		Kind:     rpc.CheckHTTP,
		HTTP:     "http://127.0.0.1:8080/health",
		Interval: rpc.Duration(10 * time.Millisecond),
	})
	fmt.Println(err)
	// Output: check "web": field "interval": 10ms is under the minimum of 1s
}

func ExampleRunner() {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer web.Close()

	changes := make(chan checks.Update, 10)
	r, err := checks.New(checks.Config{
		MinInterval: 10 * time.Millisecond, // for the example; 1s by default
		Notify:      func(u checks.Update) { changes <- u },
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	if err := r.Add(rpc.CheckDefinition{
		ID: "service:web", Name: "web", ServiceID: "web", Kind: rpc.CheckHTTP,
		HTTP: web.URL + "/health", Interval: rpc.Duration(50 * time.Millisecond),
		Timeout: rpc.Duration(5 * time.Second),
	}); err != nil {
		panic(err)
	}
	if err := r.Add(rpc.CheckDefinition{
		ID: "service:api", Name: "api", ServiceID: "api", Kind: rpc.CheckTTL,
		TTL: rpc.Duration(time.Minute),
	}); err != nil {
		panic(err)
	}
	if err := r.UpdateTTL("service:api", rpc.HealthPassing, "ready"); err != nil {
		panic(err)
	}

	for range 2 {
		u := <-changes
		fmt.Println(u.ID, u.Status)
	}
	// Unordered output:
	// service:web passing
	// service:api passing
}

// dirSource gives wasm checks the modules of a directory, by file name,
// loaded once. An edge's source fetches them from the servers instead,
// caches them on disk and follows names to their current digests.
type dirSource struct {
	rt   *wasm.Runtime
	dir  string
	mu   sync.Mutex
	mods map[string]*wasm.Module
}

func (s *dirSource) Module(ctx context.Context, ref string) (*wasm.Module, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.mods[ref]; m != nil {
		return m, nil
	}
	b, err := os.ReadFile(filepath.Join(s.dir, filepath.Base(ref)+".wasm"))
	if err != nil {
		return nil, err
	}
	m, err := s.rt.Load(ctx, b)
	if err != nil {
		return nil, err
	}
	s.mods[ref] = m // closed with the runtime
	return m, nil
}

func ExampleModuleSource() {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	changes := make(chan checks.Update, 10)
	r, err := checks.New(checks.Config{
		MinInterval: 10 * time.Millisecond, // for the example; 1s by default
		Notify:      func(u checks.Update) { changes <- u },
		Modules:     &dirSource{rt: rt, dir: "../wasm/testdata", mods: map[string]*wasm.Module{}},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	if err := r.Add(rpc.CheckDefinition{
		ID: "replicas", Name: "replicas", Kind: rpc.CheckWASM,
		Module:   "output", // wasm/testdata/output.wasm: passes, saying so
		Interval: rpc.Duration(50 * time.Millisecond),
		Timeout:  rpc.Duration(5 * time.Second),
	}); err != nil {
		panic(err)
	}
	u := <-changes
	fmt.Println(u.ID, u.Status, u.Output)
	// Output: replicas passing all good: 3 of 3 replicas up
}
