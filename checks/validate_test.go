package checks

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"meridian/rpc"
)

func validHTTP() rpc.CheckDefinition {
	return rpc.CheckDefinition{ID: "web", Name: "web", Kind: rpc.CheckHTTP,
		HTTP: "http://127.0.0.1:8080/health", Interval: dur(10 * time.Second)}
}

func TestValidate(t *testing.T) {
	httpDef := func(f func(*rpc.CheckDefinition)) rpc.CheckDefinition {
		d := validHTTP()
		f(&d)
		return d
	}
	tcpDef := func(f func(*rpc.CheckDefinition)) rpc.CheckDefinition {
		d := rpc.CheckDefinition{ID: "db", Name: "db", Kind: rpc.CheckTCP, TCP: "127.0.0.1:5432", Interval: dur(5 * time.Second)}
		f(&d)
		return d
	}
	ttlDef := func(f func(*rpc.CheckDefinition)) rpc.CheckDefinition {
		d := rpc.CheckDefinition{ID: "api", Name: "api", Kind: rpc.CheckTTL, TTL: dur(30 * time.Second)}
		f(&d)
		return d
	}
	wasmDef := func(f func(*rpc.CheckDefinition)) rpc.CheckDefinition {
		d := rpc.CheckDefinition{ID: "w", Name: "w", Kind: rpc.CheckWASM, Module: "web-health", Interval: dur(time.Minute)}
		f(&d)
		return d
	}
	none := func(*rpc.CheckDefinition) {}
	digest := strings.Repeat("0123456789abcdef", 4)
	manyGrants := make([]string, 65)
	for i := range manyGrants {
		manyGrants[i] = "localhost"
	}
	bigHeader := map[string][]string{}
	for i := range 65 {
		bigHeader["X-H"+strings.Repeat("a", i)] = []string{"v"}
	}

	cases := []struct {
		name  string
		def   rpc.CheckDefinition
		field string // "" = valid
		want  string // in the message
	}{
		{"http ok", httpDef(none), "", ""},
		{"https ok", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "https://example.com/" }), "", ""},
		{"http full ok", httpDef(func(d *rpc.CheckDefinition) {
			d.Method, d.Body, d.TLSSkipVerify, d.Timeout = "POST", "{}", true, dur(time.Second)
			d.Header = map[string][]string{"Authorization": {"Bearer x"}, "host": {"web.local"}}
			d.Status, d.SuccessBeforePassing, d.FailuresBeforeCritical = rpc.HealthPassing, 2, 3
			d.DeregisterCriticalAfter, d.ServiceID, d.Notes = dur(time.Hour), "web-1", "the web app"
		}), "", ""},
		{"tcp ok", tcpDef(none), "", ""},
		{"tcp ipv6 ok", tcpDef(func(d *rpc.CheckDefinition) { d.TCP = "[::1]:80" }), "", ""},
		{"ttl ok", ttlDef(none), "", ""},
		{"wasm ok", wasmDef(none), "", ""},
		{"wasm full ok", wasmDef(func(d *rpc.CheckDefinition) {
			d.Module, d.Args, d.Timeout = digest, json.RawMessage(`{"url":"http://127.0.0.1:8080/health","want":[200,204]}`), dur(5*time.Minute)
			d.Grants = []string{"http://127.0.0.1:8080/health", "https://*.internal/api/", "127.0.0.1:6379", "*.internal:443", "10.0.0.5:*", "localhost", "*"}
			d.MemoryPages, d.MaxNetworkBytes = 1024, 16<<20
			d.Status, d.SuccessBeforePassing, d.FailuresBeforeCritical = rpc.HealthPassing, 2, 3
		}), "", ""},
		{"wasm module name ok", wasmDef(func(d *rpc.CheckDefinition) { d.Module = "Web_health-2.1" }), "", ""},
		{"wasm module name of 128 ok", wasmDef(func(d *rpc.CheckDefinition) { d.Module = strings.Repeat("m", 128) }), "", ""},
		{"wasm args null ok", wasmDef(func(d *rpc.CheckDefinition) { d.Args = json.RawMessage(`null`) }), "", ""},
		{"wasm args of 64 KiB ok", wasmDef(func(d *rpc.CheckDefinition) { d.Args = json.RawMessage(`"` + strings.Repeat("a", 64<<10-2) + `"`) }), "", ""},
		{"no id ok", httpDef(func(d *rpc.CheckDefinition) { d.ID = "" }), "", ""},
		{"id with unicode and spaces ok", httpDef(func(d *rpc.CheckDefinition) { d.ID = "service:café 1" }), "", ""},

		{"name missing", httpDef(func(d *rpc.CheckDefinition) { d.Name = "" }), "name", "is missing"},
		{"name too long", httpDef(func(d *rpc.CheckDefinition) { d.Name = strings.Repeat("n", 257) }), "name", "257 bytes is over the maximum of 256"},
		{"name control character", httpDef(func(d *rpc.CheckDefinition) { d.Name = "a\nb" }), "name", "control character"},
		{"name invalid utf-8", httpDef(func(d *rpc.CheckDefinition) { d.Name = "a\xffb" }), "name", "not valid UTF-8"},
		{"id too long", httpDef(func(d *rpc.CheckDefinition) { d.ID = strings.Repeat("i", 257) }), "id", "over the maximum of 256"},
		{"id with slash", httpDef(func(d *rpc.CheckDefinition) { d.ID = "a/b" }), "id", `holds a "/"`},
		{"id with NUL", httpDef(func(d *rpc.CheckDefinition) { d.ID = "a\x00b" }), "id", "control character"},
		{"id reserved", httpDef(func(d *rpc.CheckDefinition) { d.ID = rpc.NodeCheckID }), "id", "reserved"},
		{"service_id with slash", httpDef(func(d *rpc.CheckDefinition) { d.ServiceID = "a/b" }), "service_id", `holds a "/"`},
		{"kind missing", httpDef(func(d *rpc.CheckDefinition) { d.Kind = "" }), "kind", "is missing"},
		{"kind unknown", httpDef(func(d *rpc.CheckDefinition) { d.Kind = "script" }), "kind", `"script" is not one of http, tcp, ttl, wasm`},
		{"notes too long", httpDef(func(d *rpc.CheckDefinition) { d.Notes = strings.Repeat("x", 4097) }), "notes", "over the maximum"},

		{"interval missing", httpDef(func(d *rpc.CheckDefinition) { d.Interval = 0 }), "interval", "is missing"},
		{"interval under 1s", httpDef(func(d *rpc.CheckDefinition) { d.Interval = dur(10 * time.Millisecond) }), "interval", "10ms is under the minimum of 1s"},
		{"interval over 24h", tcpDef(func(d *rpc.CheckDefinition) { d.Interval = dur(25 * time.Hour) }), "interval", "25h0m0s is over the maximum of 24h0m0s"},
		{"interval negative", httpDef(func(d *rpc.CheckDefinition) { d.Interval = dur(-time.Second) }), "interval", "must not be negative"},
		{"wasm interval missing", rpc.CheckDefinition{Name: "w", Kind: rpc.CheckWASM}, "interval", "is missing"},
		{"timeout over 5m", httpDef(func(d *rpc.CheckDefinition) { d.Timeout = dur(6 * time.Minute) }), "timeout", "over the maximum of 5m0s"},
		{"timeout negative", tcpDef(func(d *rpc.CheckDefinition) { d.Timeout = dur(-1) }), "timeout", "must not be negative"},

		{"http missing", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "" }), "http", "is missing"},
		{"http not http", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "ftp://example.com/" }), "http", "not an http:// or https:// URL"},
		{"http relative", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "/health" }), "http", "not an http:// or https:// URL"},
		{"http no host", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "http:///health" }), "http", "has no host"},
		{"http unparsable", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "http://a b\x7f/" }), "http", "is not a URL"},
		{"http too long", httpDef(func(d *rpc.CheckDefinition) { d.HTTP = "http://a/" + strings.Repeat("p", 2048) }), "http", "over the maximum of 2048"},
		{"method not a token", httpDef(func(d *rpc.CheckDefinition) { d.Method = "GET /" }), "method", "not an HTTP method"},
		{"header bad name", httpDef(func(d *rpc.CheckDefinition) { d.Header = map[string][]string{"X Bad": {"v"}} }), "header", "not a valid header name"},
		{"header bad value", httpDef(func(d *rpc.CheckDefinition) { d.Header = map[string][]string{"X-A": {"a\r\nX-Injected: 1"}} }), "header", "control character"},
		{"header too many", httpDef(func(d *rpc.CheckDefinition) { d.Header = bigHeader }), "header", "65 values is over the maximum of 64"},
		{"header too big", httpDef(func(d *rpc.CheckDefinition) {
			d.Header = map[string][]string{"X-A": {strings.Repeat("v", 8192)}}
		}), "header", "bytes is over the maximum of 8192"},
		{"body too big", httpDef(func(d *rpc.CheckDefinition) { d.Body = strings.Repeat("b", 64<<10+1) }), "body", "over the maximum"},

		{"tcp missing", tcpDef(func(d *rpc.CheckDefinition) { d.TCP = "" }), "tcp", "is missing; want host:port"},
		{"tcp no port", tcpDef(func(d *rpc.CheckDefinition) { d.TCP = "127.0.0.1" }), "tcp", "is not host:port"},
		{"tcp no host", tcpDef(func(d *rpc.CheckDefinition) { d.TCP = ":80" }), "tcp", "is not host:port"},
		{"tcp bad port", tcpDef(func(d *rpc.CheckDefinition) { d.TCP = "db:0" }), "tcp", "from 1 to 65535"},
		{"tcp named port", tcpDef(func(d *rpc.CheckDefinition) { d.TCP = "db:http" }), "tcp", "from 1 to 65535"},

		{"ttl missing", ttlDef(func(d *rpc.CheckDefinition) { d.TTL = 0 }), "ttl", "is missing"},
		{"ttl under 1s", ttlDef(func(d *rpc.CheckDefinition) { d.TTL = dur(500 * time.Millisecond) }), "ttl", "500ms is under the minimum of 1s"},
		{"ttl over a week", ttlDef(func(d *rpc.CheckDefinition) { d.TTL = dur(8 * 24 * time.Hour) }), "ttl", "over the maximum"},

		{"http field on tcp", tcpDef(func(d *rpc.CheckDefinition) { d.HTTP = "http://x/" }), "http", "is not used by tcp checks"},
		{"tls_skip_verify on tcp", tcpDef(func(d *rpc.CheckDefinition) { d.TLSSkipVerify = true }), "tls_skip_verify", "is not used by tcp checks"},
		{"tcp field on http", httpDef(func(d *rpc.CheckDefinition) { d.TCP = "a:1" }), "tcp", "is not used by http checks"},
		{"ttl field on http", httpDef(func(d *rpc.CheckDefinition) { d.TTL = dur(time.Minute) }), "ttl", "is not used by http checks"},
		{"interval on ttl", ttlDef(func(d *rpc.CheckDefinition) { d.Interval = dur(time.Minute) }), "interval", "is not used by ttl checks"},
		{"timeout on ttl", ttlDef(func(d *rpc.CheckDefinition) { d.Timeout = dur(time.Second) }), "timeout", "is not used by ttl checks"},
		{"thresholds on ttl", ttlDef(func(d *rpc.CheckDefinition) { d.FailuresBeforeCritical = 2 }), "failures_before_critical", "is not used by ttl checks"},
		{"method on ttl", ttlDef(func(d *rpc.CheckDefinition) { d.Method = "GET" }), "method", "is not used by ttl checks"},

		{"module missing", wasmDef(func(d *rpc.CheckDefinition) { d.Module = "" }), "module", "is missing; want a module digest or name"},
		{"module too long", wasmDef(func(d *rpc.CheckDefinition) { d.Module = strings.Repeat("m", 129) }), "module", "129 bytes is over the maximum of 128"},
		{"module with slash", wasmDef(func(d *rpc.CheckDefinition) { d.Module = "a/b" }), "module", `"a/b" is not a module digest or name`},
		{"module with space", wasmDef(func(d *rpc.CheckDefinition) { d.Module = "web health" }), "module", "is not a module digest or name"},
		{"module with unicode", wasmDef(func(d *rpc.CheckDefinition) { d.Module = "café" }), "module", "is not a module digest or name"},
		{"module dot-dot", wasmDef(func(d *rpc.CheckDefinition) { d.Module = ".." }), "module", `".." is not a module name`},
		{"args not JSON", wasmDef(func(d *rpc.CheckDefinition) { d.Args = json.RawMessage(`{"a":`) }), "args", "is not valid JSON"},
		{"args two values", wasmDef(func(d *rpc.CheckDefinition) { d.Args = json.RawMessage(`1 2`) }), "args", "is not valid JSON"},
		{"args too big", wasmDef(func(d *rpc.CheckDefinition) { d.Args = json.RawMessage(`"` + strings.Repeat("a", 64<<10-1) + `"`) }), "args", "65537 bytes is over the maximum of 65536"},
		{"grant invalid", wasmDef(func(d *rpc.CheckDefinition) { d.Grants = []string{"localhost", "ftp://x/"} }), "grants[1]", `"ftp://x/": a URL grant must be http:// or https://`},
		{"grant empty", wasmDef(func(d *rpc.CheckDefinition) { d.Grants = []string{""} }), "grants[0]", `"": empty`},
		{"grant with a dot segment", wasmDef(func(d *rpc.CheckDefinition) { d.Grants = []string{"http://a/x/../admin"} }), "grants[0]", "path has . or .. segments"},
		{"grant too long", wasmDef(func(d *rpc.CheckDefinition) { d.Grants = []string{"http://a/" + strings.Repeat("p", 2048)} }), "grants[0]", "2057 bytes is over the maximum of 2048"},
		{"grants too many", wasmDef(func(d *rpc.CheckDefinition) { d.Grants = manyGrants }), "grants", "65 grants is over the maximum of 64"},
		{"memory_pages over the cap", wasmDef(func(d *rpc.CheckDefinition) { d.MemoryPages = 1025 }), "memory_pages", "1025 is over the maximum of 1024 (64 MiB)"},
		{"max_network_bytes negative", wasmDef(func(d *rpc.CheckDefinition) { d.MaxNetworkBytes = -1 }), "max_network_bytes", "-1 must not be negative"},
		{"max_network_bytes over the cap", wasmDef(func(d *rpc.CheckDefinition) { d.MaxNetworkBytes = 16<<20 + 1 }), "max_network_bytes", "16777217 is over the maximum of 16777216"},
		{"wasm timeout over 5m", wasmDef(func(d *rpc.CheckDefinition) { d.Timeout = dur(6 * time.Minute) }), "timeout", "over the maximum of 5m0s"},
		{"http field on wasm", wasmDef(func(d *rpc.CheckDefinition) { d.HTTP = "http://x/" }), "http", "is not used by wasm checks"},
		{"header on wasm", wasmDef(func(d *rpc.CheckDefinition) { d.Header = map[string][]string{"A": {"b"}} }), "header", "is not used by wasm checks"},
		{"tcp field on wasm", wasmDef(func(d *rpc.CheckDefinition) { d.TCP = "a:1" }), "tcp", "is not used by wasm checks"},
		{"ttl field on wasm", wasmDef(func(d *rpc.CheckDefinition) { d.TTL = dur(time.Minute) }), "ttl", "is not used by wasm checks"},
		{"module on http", httpDef(func(d *rpc.CheckDefinition) { d.Module = "m" }), "module", "is not used by http checks"},
		{"args on tcp", tcpDef(func(d *rpc.CheckDefinition) { d.Args = json.RawMessage(`{}`) }), "args", "is not used by tcp checks"},
		{"grants on ttl", ttlDef(func(d *rpc.CheckDefinition) { d.Grants = []string{"localhost"} }), "grants", "is not used by ttl checks"},
		{"memory_pages on http", httpDef(func(d *rpc.CheckDefinition) { d.MemoryPages = 1 }), "memory_pages", "is not used by http checks"},
		{"max_network_bytes on tcp", tcpDef(func(d *rpc.CheckDefinition) { d.MaxNetworkBytes = 1 }), "max_network_bytes", "is not used by tcp checks"},

		{"status unknown", httpDef(func(d *rpc.CheckDefinition) { d.Status = "ok" }), "status", `"ok" is not one of passing, warning, critical`},
		{"success_before_passing negative", httpDef(func(d *rpc.CheckDefinition) { d.SuccessBeforePassing = -1 }), "success_before_passing", "-1 must not be negative"},
		{"failures_before_critical negative", tcpDef(func(d *rpc.CheckDefinition) { d.FailuresBeforeCritical = -2 }), "failures_before_critical", "-2 must not be negative"},
		{"deregister_critical_after under 1m", httpDef(func(d *rpc.CheckDefinition) { d.DeregisterCriticalAfter = dur(30 * time.Second) }), "deregister_critical_after", "30s is under the minimum of 1m0s"},
		{"deregister_critical_after negative", httpDef(func(d *rpc.CheckDefinition) { d.DeregisterCriticalAfter = dur(-time.Minute) }), "deregister_critical_after", "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.def)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				// A valid definition stays valid once normalized.
				if err := Validate(Normalize(tc.def)); err != nil {
					t.Fatalf("Validate(Normalize): %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error on field %q", tc.field)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate: %v, want a *FieldError on field %q", err, tc.field)
			}
			if !strings.Contains(err.Error(), `field "`+tc.field+`": `) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %q, want it to name field %q and say %q", err, tc.field, tc.want)
			}
			if !errors.Is(err, ErrInvalidDefinition) || !errors.Is(err, rpc.ErrInvalidParams) {
				t.Fatalf("Validate: %v does not match ErrInvalidDefinition and rpc.ErrInvalidParams", err)
			}
		})
	}
}

func TestValidateMessage(t *testing.T) {
	def := validHTTP()
	def.Interval = dur(10 * time.Millisecond)
	want := `check "web": field "interval": 10ms is under the minimum of 1s`
	if err := Validate(def); err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	def.ID = ""
	def.Name = ""
	if err := Validate(def); err == nil || err.Error() != `check: field "name": is missing` {
		t.Fatalf("got %v", err)
	}
	def.Name = "web"
	def.ID = strings.Repeat("x", 300) // the label is clipped
	if err := Validate(def); err == nil || len(err.Error()) > 200 {
		t.Fatalf("got %v", err)
	}
}

func TestNormalize(t *testing.T) {
	in := validHTTP()
	in.Header = map[string][]string{"x-token": {"a"}, "X-Token": {"b"}, "content-type": {"text/plain"}}
	got := Normalize(in)
	if got.Method != http.MethodGet || got.Status != rpc.HealthCritical || got.Timeout.Std() != 10*time.Second {
		t.Fatalf("defaults: method %q status %q timeout %s", got.Method, got.Status, got.Timeout.Std())
	}
	if len(got.Header) != 2 || len(got.Header["X-Token"]) != 2 || got.Header["Content-Type"][0] != "text/plain" {
		t.Fatalf("header not canonical: %v", got.Header)
	}
	got.Header["X-Token"][0] = "changed"
	if in.Header["x-token"][0] != "a" && in.Header["X-Token"][0] != "b" {
		t.Fatal("Normalize shares the header with its input")
	}
	if len(in.Header) != 3 || in.Method != "" {
		t.Fatal("Normalize changed its input")
	}

	short := validHTTP()
	short.Interval = dur(2 * time.Second)
	if got := Normalize(short).Timeout.Std(); got != 2*time.Second {
		t.Fatalf("timeout with a 2s interval: %s, want 2s", got)
	}
	kept := validHTTP()
	kept.Timeout, kept.Method, kept.Status = dur(time.Minute), "HEAD", rpc.HealthWarning
	if got := Normalize(kept); got.Timeout.Std() != time.Minute || got.Method != "HEAD" || got.Status != rpc.HealthWarning {
		t.Fatalf("explicit values changed: %+v", got)
	}
	ttl := Normalize(rpc.CheckDefinition{Name: "t", Kind: rpc.CheckTTL, TTL: dur(time.Minute)})
	if ttl.Timeout != 0 || ttl.Method != "" || ttl.Status != rpc.HealthCritical || Validate(ttl) != nil {
		t.Fatalf("ttl: %+v", ttl)
	}
	if got := Normalize(rpc.CheckDefinition{Header: map[string][]string{}}); got.Header != nil {
		t.Fatal("an empty header map should normalize to nil")
	}
	if !reflect.DeepEqual(Normalize(Normalize(in)), Normalize(in)) {
		t.Fatal("Normalize is not idempotent")
	}

	w := rpc.CheckDefinition{Name: "w", Kind: rpc.CheckWASM, Module: "m", Interval: dur(30 * time.Second),
		Args: json.RawMessage(`{"a":1}`), Grants: []string{"localhost"}}
	nw := Normalize(w)
	if nw.Timeout.Std() != 10*time.Second || nw.MemoryPages != 0 || nw.MaxNetworkBytes != 0 || nw.Status != rpc.HealthCritical {
		t.Fatalf("wasm defaults: %+v", nw)
	}
	nw.Args[2], nw.Grants[0] = 'b', "changed"
	if string(w.Args) != `{"a":1}` || w.Grants[0] != "localhost" {
		t.Fatal("Normalize shares args or grants with its input")
	}
	w.Args, w.Grants = json.RawMessage{}, []string{}
	if nw := Normalize(w); nw.Args != nil || nw.Grants != nil {
		t.Fatal("empty args and grants should normalize to nil")
	}
}

// FuzzValidate decodes definitions from JSON: Validate must never panic,
// and what it accepts must stay valid once normalized.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"id":"web","name":"web","kind":"http","http":"http://127.0.0.1:8080/","interval":"10s"}`))
	f.Add([]byte(`{"name":"db","kind":"tcp","tcp":"[::1]:5432","interval":"1s","timeout":"500ms"}`))
	f.Add([]byte(`{"name":"api","kind":"ttl","ttl":"30s","status":"passing"}`))
	f.Add([]byte(`{"name":"w","kind":"wasm","module":"web-health","interval":"10s","args":{"url":"http://127.0.0.1:8080/health"},"grants":["http://127.0.0.1:8080/health"]}`))
	f.Add([]byte(`{"name":"w","kind":"wasm","module":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","interval":"1m","timeout":"5m","args":[1,"x",null],"grants":["*.internal:443","localhost"],"memory_pages":1024,"max_network_bytes":16777216}`))
	f.Add([]byte(`{"name":"w","kind":"wasm","module":"m","interval":"10s","grants":["ftp://x/",""],"memory_pages":4294967295,"max_network_bytes":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var def rpc.CheckDefinition
		if json.Unmarshal(data, &def) != nil {
			return
		}
		err := Validate(def)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || !strings.HasPrefix(err.Error(), "check") {
				t.Fatalf("Validate returned %#v", err)
			}
			return
		}
		n := Normalize(def)
		if err := Validate(n); err != nil {
			t.Fatalf("valid %+v is invalid once normalized: %v", def, err)
		}
		if !reflect.DeepEqual(Normalize(n), n) {
			t.Fatalf("Normalize is not idempotent on %+v", def)
		}
	})
}
