package rpc

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// forwarder is how an edge and a server forward an upload: CheckUpload,
// then ForwardUpload to target, its error answered as unavailable.
func forwarder(target string, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !CheckUpload(w, r, maxBytes) {
			return
		}
		if err := ForwardUpload(w, r, target, r.URL.RawQuery, http.Header{ForwardedHeader: {"dc0"}}, maxBytes); err != nil {
			WriteUploadError(w, ToError(err))
		}
	})
}

// TestForwardUpload: a forwarded upload reaches the agent behind with its
// body, query and header; one over the limit is refused at the forwarder
// without its body being passed on whole; a method other than PUT or POST
// is refused; and an unreachable target is an error for the caller.
func TestForwardUpload(t *testing.T) {
	var got atomic.Pointer[ModuleSubmitParams]
	var header atomic.Value
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header.Store(r.Header.Get(ForwardedHeader))
		ModuleUploadHandler(1<<20, func(_ context.Context, p *ModuleSubmitParams) (*ModuleSubmitResult, error) {
			got.Store(p)
			return &ModuleSubmitResult{Digest: "d", Size: len(p.Module), Name: p.Name}, nil
		}).ServeHTTP(w, r)
	}))
	defer backend.Close()
	front := httptest.NewServer(forwarder(backend.URL, 1000))
	defer front.Close()

	put := func(body io.Reader, length int64, method string) (*http.Response, *ModuleSubmitResult, error) {
		req, _ := http.NewRequest(method, front.URL+ModulesPath+"?name=m", body)
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		res, err := DecodeUploadAnswer(resp)
		return resp, res, err
	}

	resp, res, err := put(bytes.NewReader([]byte("wasm")), 4, http.MethodPut)
	if err != nil || res.Name != "m" || res.Size != 4 || string(got.Load().Module) != "wasm" || header.Load() != "dc0" {
		t.Fatalf("forwarded upload: HTTP %s, %+v, %v; backend got %+v with %s %q", resp.Status, res, err, got.Load(), ForwardedHeader, header.Load())
	}

	// Declared too large: refused before reading.
	got.Store(nil)
	resp, _, err = put(bytes.NewReader(make([]byte, 2000)), 2000, http.MethodPut)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || err == nil || !strings.Contains(err.Error(), "limit of 1000 bytes") || got.Load() != nil {
		t.Fatalf("declared 2000 bytes: HTTP %s, %v, backend got %+v; want 413 naming the limit", resp.Status, err, got.Load())
	}
	// Chunked (no length) and too large: cut off as it crosses the limit.
	resp, _, err = put(io.MultiReader(strings.NewReader(strings.Repeat("x", 1500))), -1, http.MethodPut)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || err == nil || got.Load() != nil {
		t.Fatalf("chunked 1500 bytes: HTTP %s, %v, backend got %+v; want 413 and nothing stored", resp.Status, err, got.Load())
	}

	resp, _, err = put(nil, 0, http.MethodGet)
	if resp.StatusCode != http.StatusMethodNotAllowed || err == nil || !strings.Contains(err.Error(), "use PUT") {
		t.Fatalf("GET: HTTP %s, %v; want 405 saying to use PUT", resp.Status, err)
	}

	// A target that is gone: the caller's error.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	front2 := httptest.NewServer(forwarder(gone.URL, 1000))
	defer front2.Close()
	req, _ := http.NewRequest(http.MethodPut, front2.URL+ModulesPath, strings.NewReader("wasm"))
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if _, err := DecodeUploadAnswer(resp2); resp2.StatusCode != http.StatusInternalServerError || err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("unreachable target: HTTP %s, %v; want the connection error", resp2.Status, err)
	}
}
