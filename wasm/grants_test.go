package wasm

import (
	"errors"
	"net/url"
	"testing"
)

func TestParseGrant(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want grant
		bad  bool
	}{
		{in: "http://127.0.0.1:8080/health", want: grant{kind: grantHTTP, scheme: "http", host: "127.0.0.1", port: "8080", path: "/health"}},
		{in: "HTTPS://Api.Example.COM", want: grant{kind: grantHTTP, scheme: "https", host: "api.example.com", port: "443", path: "/"}},
		{in: "http://[::1]/x/", want: grant{kind: grantHTTP, scheme: "http", host: "::1", port: "80", path: "/x/"}},
		{in: "http://*.internal:*/", want: grant{kind: grantHTTP, scheme: "http", host: "*.internal", port: "*", path: "/"}},
		{in: "http://h/a%20b", want: grant{kind: grantHTTP, scheme: "http", host: "h", port: "80", path: "/a b"}},
		{in: "127.0.0.1:8080", want: grant{kind: grantTCP, host: "127.0.0.1", port: "8080"}},
		{in: "*.internal:443", want: grant{kind: grantTCP, host: "*.internal", port: "443"}},
		{in: "10.0.0.5:*", want: grant{kind: grantTCP, host: "10.0.0.5", port: "*"}},
		{in: "[0:0::1]:22", want: grant{kind: grantTCP, host: "::1", port: "22"}},
		{in: "db.internal.", want: grant{kind: grantDNS, host: "db.internal"}},
		{in: "*", want: grant{kind: grantDNS, host: "*"}},
		{in: "", bad: true},
		{in: "ftp://h/", bad: true},
		{in: "http://user@h/", bad: true},
		{in: "http://h/?q=1", bad: true},
		{in: "http://h/a/../b", bad: true},
		{in: "http://h:0/", bad: true},
		{in: "http://h:99999/", bad: true},
		{in: "http:///x", bad: true},
		{in: "h:", bad: true},
		{in: "h:port", bad: true},
		{in: "*.10.0.0.1:80", bad: true},
		{in: "bad host:80", bad: true},
		{in: "a..b", bad: true},
		{in: "h/x", bad: true},
		{in: "fe80::1%eth0", bad: true},
	} {
		g, err := parseGrant(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrGrant) {
				t.Errorf("%q: err = %v, want ErrGrant", tc.in, err)
			}
			continue
		}
		if err != nil || g != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, g, err, tc.want)
		}
	}
	if err := ValidateGrants([]string{"localhost", "h:1", "http://h/"}); err != nil {
		t.Fatal(err)
	}
	if err := ValidateGrants([]string{"localhost", "ftp://x"}); err == nil || err.Error() != `wasm: grant "ftp://x": a URL grant must be http:// or https://` {
		t.Fatalf("ValidateGrants: %v", err)
	}
}

func TestAllowURL(t *testing.T) {
	gs := parseGrants([]string{
		"http://127.0.0.1:8080/health",
		"https://*.internal/api/",
		"http://[::1]:9000/",
	})
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080/health", true},
		{"http://127.0.0.1:8080/health?verbose=1", true},
		{"http://127.0.0.1:8080/health/db", true},
		{"http://127.0.0.1:8080/healthz", false},
		{"http://127.0.0.1:8080/", false},
		{"http://127.0.0.1:8081/health", false},
		{"https://127.0.0.1:8080/health", false},
		{"http://127.0.0.1:8080@evil.example/health", false},
		{"http://user:pw@127.0.0.1:8080/health", false},
		{"http://127.0.0.1:8080/health/../admin", false},
		{"http://127.0.0.1:8080/health/%2e%2e/admin", false},
		{"http://localhost:8080/health", false},
		{"https://db.internal/api/v1", true},
		{"https://db.internal:443/api/", true},
		{"https://internal/api/", false},
		{"https://db.internal/apix", false},
		{"https://db.internal.evil.example/api/", false},
		{"http://[::1]:9000/anything", true},
		{"http://[0::1]:9000/anything", true},
		{"ftp://127.0.0.1:8080/health", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			if tc.want {
				t.Errorf("%s: %v", tc.url, err)
			}
			continue
		}
		if got, why := gs.allowURL(u); got != tc.want {
			t.Errorf("%s: allowed %v (%s), want %v", tc.url, got, why, tc.want)
		}
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1:8081": false, "db.internal:443": true,
		"[::1]:9000": true, "localhost:8080": false, "nonsense": false,
	} {
		if got := gs.allowHTTPDial(addr); got != want {
			t.Errorf("dial %s: %v, want %v", addr, got, want)
		}
	}
}

func TestAllowTCPAndDNS(t *testing.T) {
	gs := parseGrants([]string{"127.0.0.1:8080", "*.internal:443", "10.0.0.5:*", "localhost", "*.svc.cluster.local"})
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"127.0.0.1", "8080", true},
		{"127.0.0.1", "8081", false},
		{"db.internal", "443", true},
		{"a.b.internal", "443", true},
		{"internal", "443", false},
		{"db.internal", "80", false},
		{"10.0.0.5", "22", true},
		{"10.0.0.6", "22", false},
		{"localhost", "8080", false},
	} {
		if got := gs.allowTCP(tc.host, tc.port); got != tc.want {
			t.Errorf("tcp %s:%s: %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
	for name, want := range map[string]bool{
		"localhost": true, "web.svc.cluster.local": true, "svc.cluster.local": false,
		"db.internal": false, "127.0.0.1": false,
	} {
		if got := gs.allowDNS(name); got != want {
			t.Errorf("dns %s: %v, want %v", name, got, want)
		}
	}
}
