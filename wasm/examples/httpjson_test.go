package examples_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"meridian/wasm"
)

// healthServer answers JSON health documents on 127.0.0.1.
func healthServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	for path, body := range map[string]string{
		"/health/ok":       `{"status":"ok","version":"1.2.3"}`,
		"/health/degraded": `{"status":"degraded"}`,
		"/health/down":     `{"status":"down"}`,
		"/health/nested":   `{"checks":{"db":{"status":"ok"}}}`,
		"/health/bool":     `{"healthy":true}`,
		"/health/text":     `all good`,
		"/health/nofield":  `{"state":"ok"}`,
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept") != "application/json" {
				t.Errorf("%s: Accept %q", path, r.Header.Get("Accept"))
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	mux.HandleFunc("/health/error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"ok"}`, http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the ungranted /admin was reached")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestHTTPJSON runs the HTTP JSON example, in Go and in AssemblyScript,
// against a local health endpoint.
func TestHTTPJSON(t *testing.T) {
	srv := healthServer(t)
	rt := newRuntime(t)
	u := srv.URL + "/health"
	grants := []string{u}
	for _, example := range []string{"httpjson", "httpjson_as"} {
		t.Run(example, func(t *testing.T) {
			m := load(t, rt, example)
			for _, tc := range []runCase{
				{name: "ok", args: `{"url":"` + u + `/ok"}`, grants: grants,
					status: wasm.Passing, output: `GET ` + u + `/ok: status = "ok"`},
				{name: "degraded", args: `{"url":"` + u + `/degraded"}`, grants: grants,
					status: wasm.Warning, output: `GET ` + u + `/degraded: status = "degraded" (want "ok")`},
				{name: "down", args: `{"url":"` + u + `/down"}`, grants: grants,
					status: wasm.Critical, output: `GET ` + u + `/down: status = "down", want "ok"`},
				{name: "own values", args: `{"url":"` + u + `/down","want":"up","warn":["down"]}`, grants: grants,
					status: wasm.Warning, output: `GET ` + u + `/down: status = "down" (want "up")`},
				{name: "other field", args: `{"url":"` + u + `/ok","field":"version","want":"1.2.3"}`, grants: grants,
					status: wasm.Passing, output: `GET ` + u + `/ok: version = "1.2.3"`},
				{name: "nested field", args: `{"url":"` + u + `/nested","field":"checks.db.status"}`, grants: grants,
					status: wasm.Passing, output: `GET ` + u + `/nested: checks.db.status = "ok"`},
				{name: "bool field", args: `{"url":"` + u + `/bool","field":"healthy","want":"true"}`, grants: grants,
					status: wasm.Passing, output: `GET ` + u + `/bool: healthy = "true"`},
				{name: "no field", args: `{"url":"` + u + `/nofield"}`, grants: grants,
					status: wasm.Critical, has: []string{`no field "status"`}},
				{name: "not json", args: `{"url":"` + u + `/text"}`, grants: grants,
					status: wasm.Critical, has: []string{"HTTP 200, not JSON: ", "all good"}},
				{name: "http error", args: `{"url":"` + u + `/error"}`, grants: grants,
					status: wasm.Critical, has: []string{"GET " + u + "/error: HTTP 503: "}},
				{name: "not granted", args: `{"url":"` + srv.URL + `/admin"}`, grants: grants,
					status: wasm.Critical,
					output: "GET " + srv.URL + "/admin: not granted\n" +
						"meridian: http_request " + srv.URL + "/admin refused: not granted (grants: " + u + ")",
					refused: []string{"http_request " + srv.URL + "/admin"}},
				{name: "no grants", args: `{"url":"` + u + `/ok"}`,
					status: wasm.Critical, has: []string{"GET " + u + "/ok: not granted\n"},
					refused: []string{"http_request " + u + "/ok"}},
				{name: "bad arguments", args: `{"uri":"` + u + `/ok"}`, grants: grants,
					status: wasm.Critical, has: []string{"bad arguments "}},
				{name: "no arguments", grants: grants,
					status: wasm.Critical, has: []string{"bad arguments "}},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, m) })
			}
		})
	}
}

// TestHTTPJSONReuse runs each HTTP JSON module many times on one kept
// instance: memory is reclaimed between runs (a 64 KiB answer buffer per
// run would pass the 16 MiB default limit after about 250 runs if it were
// not).
func TestHTTPJSONReuse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv := healthServer(t)
	rt := newRuntime(t)
	u := srv.URL + "/health"
	tc := runCase{name: "ok", args: `{"url":"` + u + `/ok"}`, grants: []string{u},
		status: wasm.Passing, output: `GET ` + u + `/ok: status = "ok"`}
	for _, example := range []string{"httpjson", "httpjson_as"} {
		t.Run(example, func(t *testing.T) {
			m := load(t, rt, example)
			for range 400 {
				tc.run(t, m)
				if t.Failed() {
					break
				}
			}
		})
	}
}
