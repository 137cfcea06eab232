package checks

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"meridian/rpc"
)

// seen is what the test server last received.
type seen struct {
	mu                                    sync.Mutex
	method, body, host, ua, accept, token string
	user, pass                            string
}

func newTestServer(t *testing.T, tls bool) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(r.PathValue("code"), &code)
		w.WriteHeader(code)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.method, s.body, s.host = r.Method, string(b), r.Host
		s.ua, s.accept, s.token = r.UserAgent(), r.Header.Get("Accept"), r.Header.Get("X-Token")
		s.user, s.pass, _ = r.BasicAuth()
		s.mu.Unlock()
		io.WriteString(w, "echo")
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100<<10))
	})
	mux.HandleFunc("/utf8", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("é", 1000))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status/200", http.StatusFound)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, s
}

func TestHTTPProbe(t *testing.T) {
	srv, s := newTestServer(t, false)
	r := newRunner(t, Config{MaxOutput: 256})
	refused := "http://" + closedAddr(t) + "/"

	cases := []struct {
		name       string
		def        func(*rpc.CheckDefinition)
		status     string
		output     string // exact, unless contains is set
		contains   []string
		maxLen     int // output bytes at most, if set
		checkSeen  func(t *testing.T)
		notContain string
	}{
		{name: "200 passing", def: path("/status/200"), status: rpc.HealthPassing,
			output: "HTTP GET " + srv.URL + "/status/200: 200 OK Output: ok"},
		{name: "204 passing", def: path("/status/204"), status: rpc.HealthPassing,
			output: "HTTP GET " + srv.URL + "/status/204: 204 No Content Output: "},
		{name: "429 warning", def: path("/status/429"), status: rpc.HealthWarning,
			contains: []string{"429 Too Many Requests Output: ok"}},
		{name: "500 critical", def: path("/status/500"), status: rpc.HealthCritical,
			contains: []string{": 500 Internal Server Error Output: ok"}},
		{name: "404 critical", def: path("/status/404"), status: rpc.HealthCritical,
			contains: []string{": 404 Not Found"}},
		{name: "302 followed", def: path("/redirect"), status: rpc.HealthPassing,
			contains: []string{"HTTP GET " + srv.URL + "/redirect: 200 OK Output: ok"}},
		{name: "connection refused critical", status: rpc.HealthCritical,
			def:      func(d *rpc.CheckDefinition) { d.HTTP = refused },
			contains: []string{"HTTP GET " + refused + ": ", "connection refused"}},
		{name: "timeout critical", status: rpc.HealthCritical,
			def: func(d *rpc.CheckDefinition) {
				d.HTTP, d.Timeout = srv.URL+"/block", dur(100*time.Millisecond)
			},
			output: "HTTP GET " + srv.URL + "/block: timed out after 100ms"},
		{name: "method, header, body and host sent", status: rpc.HealthPassing,
			def: func(d *rpc.CheckDefinition) {
				d.HTTP, d.Method, d.Body = srv.URL+"/echo", "PUT", "ping"
				d.Header = map[string][]string{"x-token": {"abc"}, "Host": {"web.example"}}
			},
			output: "HTTP PUT " + srv.URL + "/echo: 200 OK Output: echo",
			checkSeen: func(t *testing.T) {
				if s.method != "PUT" || s.body != "ping" || s.token != "abc" || s.host != "web.example" {
					t.Errorf("server saw method %q body %q token %q host %q", s.method, s.body, s.token, s.host)
				}
				if s.ua != "Meridian Health Check" || s.accept != acceptHeader {
					t.Errorf("server saw User-Agent %q Accept %q", s.ua, s.accept)
				}
			}},
		{name: "User-Agent header wins", status: rpc.HealthPassing,
			def: func(d *rpc.CheckDefinition) {
				d.HTTP, d.Header = srv.URL+"/echo", map[string][]string{"User-Agent": {"mine"}}
			},
			checkSeen: func(t *testing.T) {
				if s.ua != "mine" || s.method != "GET" || s.body != "" {
					t.Errorf("server saw User-Agent %q method %q body %q", s.ua, s.method, s.body)
				}
			}},
		{name: "password redacted from output", status: rpc.HealthPassing,
			def: func(d *rpc.CheckDefinition) {
				d.HTTP = strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1) + "/echo"
			},
			contains:   []string{"alice:xxxxx@"},
			notContain: "s3cret",
			checkSeen: func(t *testing.T) {
				if s.user != "alice" || s.pass != "s3cret" {
					t.Errorf("server saw basic auth %q %q", s.user, s.pass)
				}
			}},
		{name: "body capped at MaxOutput", def: path("/big"), status: rpc.HealthPassing,
			contains: []string{"200 OK Output: xxx", "(output truncated to 256 bytes)"}, maxLen: 256},
		{name: "cut on a UTF-8 boundary", def: path("/utf8"), status: rpc.HealthPassing,
			contains: []string{"Output: éé", "(output truncated to 256 bytes)"}, maxLen: 256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := rpc.CheckDefinition{ID: "c", Name: "c", Kind: rpc.CheckHTTP, HTTP: srv.URL, Interval: dur(time.Second)}
			tc.def(&def)
			if strings.HasPrefix(def.HTTP, "/") {
				def.HTTP = srv.URL + def.HTTP
			}
			res := probeOnce(t, r, def)
			if res.status != tc.status {
				t.Errorf("status %s, want %s (output %q)", res.status, tc.status, res.output)
			}
			if tc.output != "" && res.output != tc.output {
				t.Errorf("output\n%q, want\n%q", res.output, tc.output)
			}
			for _, c := range tc.contains {
				if !strings.Contains(res.output, c) {
					t.Errorf("output %q does not contain %q", res.output, c)
				}
			}
			if tc.notContain != "" && strings.Contains(res.output, tc.notContain) {
				t.Errorf("output %q contains %q", res.output, tc.notContain)
			}
			if tc.maxLen > 0 && len(res.output) > tc.maxLen {
				t.Errorf("output is %d bytes, over %d", len(res.output), tc.maxLen)
			}
			if !utf8.ValidString(res.output) {
				t.Errorf("output is not valid UTF-8: %q", res.output)
			}
			if tc.checkSeen != nil {
				s.mu.Lock()
				defer s.mu.Unlock()
				tc.checkSeen(t)
			}
		})
	}
}

func path(p string) func(*rpc.CheckDefinition) {
	return func(d *rpc.CheckDefinition) { d.HTTP = p }
}

func TestHTTPTLSSkipVerify(t *testing.T) {
	srv, _ := newTestServer(t, true)
	r := newRunner(t, Config{})
	def := rpc.CheckDefinition{ID: "tls", Name: "tls", Kind: rpc.CheckHTTP, HTTP: srv.URL + "/status/200", Interval: dur(time.Second)}

	cases := []struct {
		name   string
		skip   bool
		status string
		output string
	}{
		{"verified: self-signed certificate refused", false, rpc.HealthCritical, "certificate"},
		{"tls_skip_verify: passing", true, rpc.HealthPassing, "200 OK Output: ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := def
			d.TLSSkipVerify = tc.skip
			res := probeOnce(t, r, d)
			if res.status != tc.status || !strings.Contains(res.output, tc.output) {
				t.Fatalf("got %s %q, want %s with %q", res.status, res.output, tc.status, tc.output)
			}
		})
	}
}

// A base client's transport settings are kept: here its TLS roots, which
// make the test server's certificate trusted without skipping checks.
func TestHTTPBaseClient(t *testing.T) {
	srv, _ := newTestServer(t, true)
	r := newRunner(t, Config{HTTPClient: srv.Client()})
	def := rpc.CheckDefinition{ID: "tls", Name: "tls", Kind: rpc.CheckHTTP, HTTP: srv.URL + "/status/200", Interval: dur(time.Second)}
	if res := probeOnce(t, r, def); res.status != rpc.HealthPassing {
		t.Fatalf("got %s %q", res.status, res.output)
	}
	if !r.httpClient.Transport.(*http.Transport).DisableKeepAlives {
		t.Fatal("keep-alives are on")
	}
}
