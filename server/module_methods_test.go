package server_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"meridian/rpc"
	"meridian/server"
	"meridian/server/servertest"
)

// guest reads a module built from wasm/testdata (see wasm/testdata/build.sh).
func guest(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wasm", "testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestModuleSubmitGetListDelete(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 3, KVShards: 1})
	pass := guest(t, "pass")

	var sub rpc.ModuleSubmitResult
	c.Call(t, 1, rpc.MethodModuleSubmit, rpc.ModuleSubmitParams{Module: pass, Name: "probe"}, &sub)
	if len(sub.Digest) != 64 || sub.Size != len(pass) || sub.ABI != 1 || !sub.Created || sub.Name != "probe" {
		t.Fatalf("submit = %+v", sub)
	}
	var again rpc.ModuleSubmitResult
	c.Call(t, 2, rpc.MethodModuleSubmit, rpc.ModuleSubmitParams{Module: pass}, &again)
	if again.Digest != sub.Digest || again.Created {
		t.Fatalf("second submit = %+v, want the same digest, not created", again)
	}

	// Readable from every server, by digest or by name, with its bytes.
	for i := range 3 {
		for _, ref := range []string{sub.Digest, "probe"} {
			var got rpc.ModuleGetResult
			c.Call(t, i, rpc.MethodModuleGet, rpc.ModuleGetParams{Module: ref, WithBody: true}, &got)
			if got.Digest != sub.Digest || !bytes.Equal(got.Body, pass) || len(got.Names) != 1 {
				t.Fatalf("server %d get %s = %+v", i, ref, got.Module)
			}
		}
	}
	var meta rpc.ModuleGetResult
	c.Call(t, 0, rpc.MethodModuleGet, rpc.ModuleGetParams{Module: "probe"}, &meta)
	if meta.Body != nil {
		t.Fatal("body sent without with_body")
	}
	var list rpc.ModuleListResult
	c.Call(t, 0, rpc.MethodModuleList, rpc.ModuleListParams{}, &list)
	if len(list.Modules) != 1 || list.Modules[0].Digest != sub.Digest || list.Index == 0 {
		t.Fatalf("list = %+v", list)
	}

	// A registered check using the module (by name) blocks its deletion.
	register(t, c, 0, rpc.CatalogRegisterParams{Node: "edge-1", Address: "127.0.0.1",
		Services: []rpc.Service{{Name: "web", Port: 80}},
		Checks:   []rpc.Check{{ID: "probe", Name: "probe", ServiceID: "web", Kind: rpc.CheckWASM, Module: "probe", Status: rpc.HealthPassing}}})
	err := c.TryCall(0, rpc.MethodModuleDelete, rpc.ModuleDeleteParams{Module: sub.Digest}, nil)
	if rpc.Code(err) != rpc.CodeInvalidParams || !strings.Contains(err.Error(), "edge-1/probe") {
		t.Fatalf("delete of a used module: %v", err)
	}
	var del rpc.ModuleDeleteResult
	c.Call(t, 1, rpc.MethodModuleDelete, rpc.ModuleDeleteParams{Module: "probe", Force: true}, &del)
	if !del.Deleted {
		t.Fatalf("forced delete = %+v", del)
	}
	err = c.TryCall(2, rpc.MethodModuleGet, rpc.ModuleGetParams{Module: sub.Digest}, nil)
	if !errors.Is(err, rpc.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestModuleSubmitRefusesBadModules(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 1, KVShards: 1,
		Configure: func(_ int, cfg *server.Config) { cfg.MaxModuleBytes = 64 << 10 }})
	cases := []struct {
		name   string
		params rpc.ModuleSubmitParams
		code   int
		want   string
	}{
		{"empty", rpc.ModuleSubmitParams{}, rpc.CodeInvalidParams, `"module"`},
		{"not wasm", rpc.ModuleSubmitParams{Module: []byte("#!/bin/sh\necho ok\n")}, rpc.CodeInvalidParams, "not a WebAssembly module"},
		{"unknown import", rpc.ModuleSubmitParams{Module: guest(t, "bad_import")}, rpc.CodeInvalidParams, "import"},
		{"no entry point", rpc.ModuleSubmitParams{Module: guest(t, "no_check")}, rpc.CodeInvalidParams, "check"},
		{"too large", rpc.ModuleSubmitParams{Module: make([]byte, 65<<10)}, rpc.CodeTooLarge, "limit"},
		{"bad name", rpc.ModuleSubmitParams{Module: guest(t, "pass"), Name: "no spaces"}, rpc.CodeInvalidParams, `"name"`},
	}
	for _, tc := range cases {
		err := c.TryCall(0, rpc.MethodModuleSubmit, tc.params, nil)
		if rpc.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want code %d mentioning %q", tc.name, err, tc.code, tc.want)
		}
	}
	var list rpc.ModuleListResult
	c.Call(t, 0, rpc.MethodModuleList, rpc.ModuleListParams{}, &list)
	if len(list.Modules) != 0 {
		t.Fatalf("refused modules were stored: %+v", list.Modules)
	}
}

// endless is an upload body that never ends, counting what was read.
type endless struct{ n atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n.Load() > 200<<20 {
		return 0, io.EOF // a safety stop far above any limit
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

func TestModuleUpload(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Servers: 1, KVShards: 1})
	srv := httptest.NewServer(c.Servers[0].ModuleUploadHandler())
	defer srv.Close()

	put := func(body io.Reader, size int64, query string) (*http.Response, *rpc.ModuleSubmitResult, error) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+rpc.ModulesPath+query, body)
		req.ContentLength = size
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		res, err := rpc.DecodeUploadAnswer(resp)
		return resp, res, err
	}
	pass := guest(t, "pass")
	resp, res, err := put(bytes.NewReader(pass), int64(len(pass)), "?name=up")
	if err != nil || resp.StatusCode != 200 || res.Size != len(pass) || res.Name != "up" {
		t.Fatalf("upload: %v %+v", err, res)
	}
	var got rpc.ModuleGetResult
	c.Call(t, 0, rpc.MethodModuleGet, rpc.ModuleGetParams{Module: "up", WithBody: true}, &got)
	if !bytes.Equal(got.Body, pass) {
		t.Fatal("uploaded module reads back different")
	}

	resp, _, err = put(strings.NewReader("not wasm"), 8, "")
	if resp == nil || resp.StatusCode != http.StatusBadRequest || rpc.Code(err) != rpc.CodeInvalidParams {
		t.Fatalf("upload of a non-module: %v %v", resp, err)
	}

	// 100 MB announced: refused from the header, the body left unread.
	big := &endless{}
	resp, _, err = put(io.LimitReader(big, 100<<20), 100<<20, "")
	if resp != nil && (resp.StatusCode != http.StatusRequestEntityTooLarge || rpc.Code(err) != rpc.CodeTooLarge) {
		t.Fatalf("100 MB upload: %v %v", resp.Status, err)
	}
	if n := big.n.Load(); n > 32<<20 {
		t.Fatalf("%d MB of an upload refused by its length were sent", n>>20)
	}
	// 100 MB streamed without a length: cut off just past the limit.
	big = &endless{}
	resp, _, err = put(io.LimitReader(big, 100<<20), -1, "")
	if resp != nil && rpc.Code(err) != rpc.CodeTooLarge {
		t.Fatalf("streamed 100 MB upload: %v %v", resp.Status, err)
	}
	if n := big.n.Load(); n > 32<<20 {
		t.Fatalf("the server read %d MB of a refused upload", n>>20)
	}

	resp, _, err = put(nil, 0, "")
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty upload: %v %v", resp, err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+rpc.ModulesPath, nil)
	r2, err := http.DefaultClient.Do(req)
	if err != nil || r2.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", r2, err)
	}
	r2.Body.Close()
}
