package wasm

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// A grant names what a check may reach. Its form says what it is for:
//
//	http://host[:port][/path]   http_request to that URL or below (https too)
//	host:port                   tcp_connect to that address
//	name                        dns_lookup of that name
//
// host may be "*" (any host) or "*.suffix" (any name under suffix, not the
// suffix itself, never an IP literal); port may be "*". Hosts compare
// textually (case-insensitive, IP literals in canonical form): granting
// "127.0.0.1:80" does not grant "localhost:80". A URL grant's path matches
// itself and the paths below it ("/health" matches "/health" and
// "/health/db", not "/healthz"); the query string is not part of the match.
type grantKind uint8

const (
	grantHTTP grantKind = iota + 1
	grantTCP
	grantDNS
)

type grant struct {
	kind   grantKind
	scheme string // http, https (grantHTTP)
	host   string // pattern: "*", "*.suffix", a name or a canonical IP
	port   string // "*" or a decimal port (grantHTTP, grantTCP)
	path   string // decoded path prefix, "/" at least (grantHTTP)
}

// grantSet is the parsed grant list of one check.
type grantSet struct {
	grants  []grant
	invalid []string // grants that did not parse, with the reason
}

// ValidateGrants reports the first grant that is not a URL prefix, a
// host:port pattern or a DNS name pattern.
func ValidateGrants(grants []string) error {
	for _, g := range grants {
		if _, err := parseGrant(g); err != nil {
			return err
		}
	}
	return nil
}

func parseGrants(grants []string) grantSet {
	var gs grantSet
	for _, s := range grants {
		g, err := parseGrant(s)
		if err != nil {
			gs.invalid = append(gs.invalid, err.Error())
			continue
		}
		gs.grants = append(gs.grants, g)
	}
	return gs
}

func parseGrant(s string) (grant, error) {
	bad := func(why string) (grant, error) {
		return grant{}, detailf(ErrGrant, fmt.Sprintf("grant %q: %s", s, why))
	}
	if s == "" {
		return bad("empty")
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		scheme = strings.ToLower(scheme)
		if scheme != "http" && scheme != "https" {
			return bad("a URL grant must be http:// or https://")
		}
		authority, p, _ := strings.Cut(rest, "/")
		p = "/" + p
		if strings.ContainsAny(authority, "@?#") || strings.ContainsAny(p, "?#") {
			return bad("a URL grant has no user, query or fragment")
		}
		host, port, err := splitHostPortDefault(authority, defaultPort(scheme))
		if err != nil {
			return bad(err.Error())
		}
		if host, err = hostPattern(host); err != nil {
			return bad(err.Error())
		}
		if port, err = portPattern(port); err != nil {
			return bad(err.Error())
		}
		dp, err := url.PathUnescape(p)
		if err != nil {
			return bad("bad path escape")
		}
		if hasDotSegment(dp) {
			return bad("path has . or .. segments")
		}
		return grant{kind: grantHTTP, scheme: scheme, host: host, port: port, path: dp}, nil
	}
	if strings.ContainsAny(s, "/@?#") {
		return bad("not a URL (scheme://...), host:port or DNS name")
	}
	if strings.Contains(s, ":") {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return bad(err.Error())
		}
		if host, err = hostPattern(host); err != nil {
			return bad(err.Error())
		}
		if port, err = portPattern(port); err != nil {
			return bad(err.Error())
		}
		return grant{kind: grantTCP, host: host, port: port}, nil
	}
	host, err := hostPattern(s)
	if err != nil {
		return bad(err.Error())
	}
	return grant{kind: grantDNS, host: host}, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// splitHostPortDefault splits "host[:port]" (IPv6 in brackets).
func splitHostPortDefault(authority, port string) (string, string, error) {
	if authority == "" {
		return "", "", fmt.Errorf("no host")
	}
	if h, p, err := net.SplitHostPort(authority); err == nil {
		return h, p, nil
	}
	if strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]") {
		return authority[1 : len(authority)-1], port, nil
	}
	if strings.Contains(authority, ":") {
		return "", "", fmt.Errorf("bad host:port %q", authority)
	}
	return authority, port, nil
}

// hostPattern normalises a grant's host: lower case, no trailing dot, IP
// literals canonical; "*" and "*.suffix" are patterns.
func hostPattern(h string) (string, error) {
	if h == "*" {
		return h, nil
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		n, err := hostName(rest)
		if err != nil {
			return "", err
		}
		if _, err := netip.ParseAddr(n); err == nil {
			return "", fmt.Errorf("a wildcard does not apply to an IP address")
		}
		return "*." + n, nil
	}
	return hostName(h)
}

// hostName normalises a host as written in a grant or a request.
func hostName(h string) (string, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("IPv6 zones are not supported")
		}
		return a.Unmap().String(), nil
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", fmt.Errorf("bad host name")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("bad host name %q", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("bad character %q in host name %q", c, h)
			}
		}
	}
	return h, nil
}

func portPattern(p string) (string, error) {
	if p == "*" {
		return p, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bad port %q", p)
	}
	return strconv.Itoa(n), nil
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (g grant) matchHost(h string) bool {
	switch {
	case g.host == "*":
		return true
	case strings.HasPrefix(g.host, "*."):
		if _, err := netip.ParseAddr(h); err == nil {
			return false
		}
		return len(h) > len(g.host)-1 && strings.HasSuffix(h, g.host[1:])
	default:
		return g.host == h
	}
}

func (g grant) matchPort(p string) bool { return g.port == "*" || g.port == p }

// allowTCP reports whether host:port (already normalised) is granted.
func (gs *grantSet) allowTCP(host, port string) bool {
	for _, g := range gs.grants {
		if g.kind == grantTCP && g.matchHost(host) && g.matchPort(port) {
			return true
		}
	}
	return false
}

// allowDNS reports whether the (normalised) name may be looked up.
func (gs *grantSet) allowDNS(name string) bool {
	for _, g := range gs.grants {
		if g.kind == grantDNS && g.matchHost(name) {
			return true
		}
	}
	return false
}

// allowURL reports whether the URL is granted, or why it is not.
func (gs *grantSet) allowURL(u *url.URL) (bool, string) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return false, "only http and https URLs"
	}
	if u.User != nil || u.Opaque != "" {
		return false, "URL has user info or is opaque"
	}
	host, err := hostName(u.Hostname())
	if err != nil {
		return false, err.Error()
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	if port, err = portPattern(port); err != nil || port == "*" {
		return false, "bad port"
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if hasDotSegment(p) {
		return false, "path has . or .. segments"
	}
	for _, g := range gs.grants {
		if g.kind == grantHTTP && g.scheme == scheme && g.matchHost(host) && g.matchPort(port) && pathUnder(p, g.path) {
			return true, ""
		}
	}
	return false, "not granted"
}

// allowHTTPDial reports whether an HTTP connection to host:port may be
// dialled: some URL grant names that host and port. It is the last line of
// defence under allowURL.
func (gs *grantSet) allowHTTPDial(addr string) bool {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h, err = hostName(h); err != nil {
		return false
	}
	for _, g := range gs.grants {
		if g.kind == grantHTTP && g.matchHost(h) && g.matchPort(p) {
			return true
		}
	}
	return false
}

// pathUnder reports whether p is prefix or below it, segment-wise.
func pathUnder(p, prefix string) bool {
	if prefix == "/" || p == prefix {
		return true
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return strings.HasSuffix(prefix, "/") || p[len(prefix)] == '/'
}
