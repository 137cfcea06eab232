package wasm

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRunWarm: one run of a check on a warm instance. "pass" makes
// no host call, "output" one (set_output), "go" is the Go reactor guest
// (three host calls).
func BenchmarkRunWarm(b *testing.B) {
	for _, name := range []string{"pass", "output", "go"} {
		b.Run(name, func(b *testing.B) {
			file := name
			if name == "go" {
				file = "goguest"
			}
			rt := newRuntime(b, Config{Logger: slog.New(slog.DiscardHandler), CacheDir: sharedCacheDir()})
			m := load(b, rt, file)
			ctx := context.Background()
			c := Check{Args: json.RawMessage(`{"a":1}`)}
			if res := m.Run(ctx, c); res.Status != Passing {
				b.Fatalf("%+v", res)
			}
			b.ReportAllocs()
			for b.Loop() {
				if res := m.Run(ctx, c); res.Status != Passing {
					b.Fatalf("%+v", res)
				}
			}
		})
	}
}

// BenchmarkRunHTTP: one run making one granted http_request to a local
// server (a new TCP connection each time: no keep-alive between runs).
func BenchmarkRunHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	rt := newRuntime(b, Config{Logger: slog.New(slog.DiscardHandler)})
	m := load(b, rt, "http")
	ctx := context.Background()
	c := Check{Args: json.RawMessage(`{"url":"` + srv.URL + `/health"}`), Grants: []string{srv.URL + "/health"}}
	b.ReportAllocs()
	for b.Loop() {
		if res := m.Run(ctx, c); res.Status != Passing {
			b.Fatalf("%+v", res)
		}
	}
}
