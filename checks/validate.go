package checks

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"meridian/rpc"
	"meridian/wasm"
)

// Defaults of a check definition.
const (
	DefaultMinInterval = time.Second // the smallest interval and ttl Validate allows
	DefaultTimeout     = 10 * time.Second
)

// Limits of a check definition (see Validate). The ID rules mirror
// rpc.ValidateName, the servers' rule for check IDs, so a check the runner
// accepts is one the catalog accepts.
const (
	maxInterval    = 24 * time.Hour
	maxTTL         = 7 * 24 * time.Hour
	maxTimeout     = 5 * time.Minute
	minDeregister  = time.Minute // deregister_critical_after, as Consul
	maxIDBytes     = 256
	maxNameBytes   = 256
	maxNotesBytes  = 4096
	maxURLBytes    = 2048
	maxMethodBytes = 32
	maxHeaderCount = 64   // header values, all names together
	maxHeaderBytes = 8192 // names and values together
	maxBodyBytes   = 64 << 10
	maxModuleRef   = 128 // a module name; a digest is 64 hex digits
	maxArgsBytes   = 64 << 10
	maxGrants      = 64
	maxGrantBytes  = 2048

	// reservedIDPrefix starts the IDs of Meridian's own checks, such as
	// rpc.NodeCheckID.
	reservedIDPrefix = "meridian:"
)

// Validate checks a definition as a user wrote it (before Normalize) and
// returns a *FieldError naming the first wrong field by its JSON name, e.g.
//
//	check "web": field "interval": 10ms is under the minimum of 1s
//
// The rules: name required, at most 256 bytes of printable UTF-8; id
// (optional here: the agent assigns IDs, Runner.Add requires one) and
// service_id at most 256 bytes of printable UTF-8 without "/", id not
// starting with "meridian:"; kind one of http, tcp, ttl, wasm; notes at
// most 4 KiB. http, tcp and wasm need an interval from 1s to 24h, take a
// timeout up to 5m and thresholds of 0 or more; ttl needs a ttl from 1s
// to 7 days. http needs an http:// or https:// URL with a host (at most
// 2 KiB); its method must be an HTTP token, its header at most 64 values
// and 8 KiB with token names and values without control characters, its
// body at most 64 KiB. tcp needs host:port with a numeric port. wasm
// needs a module: its digest (64 hex digits) or a name (1 to 128 letters,
// digits, '-', '_', '.', not "." or ".."); args, if set, are valid JSON of
// at most 64 KiB; grants, at most 64 of at most 2 KiB each, must be valid
// (wasm.ValidateGrants); memory_pages and max_network_bytes, 0 for the
// edge's default, are at most the caps of wasm.DefaultConfig (1024 pages,
// 16 MiB). A field of another kind (tcp on an http check, interval or
// thresholds on a ttl check, grants on an http check, ...) is an error, not
// ignored. status, if set, is passing, warning or critical;
// deregister_critical_after, if set, is at least 1m.
func Validate(def rpc.CheckDefinition) error {
	return validate(def, DefaultMinInterval)
}

// Normalize returns def with its defaults filled: method GET (http),
// timeout min(10s, interval) (http, tcp, wasm), status critical. Header
// names are put in canonical form; the header map, args and grants are
// copied (empty ones become nil), so the result shares nothing writable
// with def. A wasm check's limits stay 0 when unset: the edge's defaults.
func Normalize(def rpc.CheckDefinition) rpc.CheckDefinition {
	def.Header = canonicalHeader(def.Header)
	def.Args, def.Grants = cloneArgs(def.Args), cloneGrants(def.Grants)
	if def.Kind == rpc.CheckHTTP && def.Method == "" {
		def.Method = http.MethodGet
	}
	if periodic(def.Kind) && def.Timeout == 0 {
		def.Timeout = rpc.Duration(min(DefaultTimeout, def.Interval.Std()))
	}
	if def.Status == "" {
		def.Status = rpc.HealthCritical
	}
	return def
}

// periodic reports whether a kind is probed every interval (as opposed to
// ttl, which waits to be told).
func periodic(kind string) bool {
	return kind == rpc.CheckHTTP || kind == rpc.CheckTCP || kind == rpc.CheckWASM
}

func cloneArgs(a json.RawMessage) json.RawMessage {
	if len(a) == 0 {
		return nil
	}
	return slices.Clone(a)
}

func cloneGrants(g []string) []string {
	if len(g) == 0 {
		return nil
	}
	return slices.Clone(g)
}

func canonicalHeader(h map[string][]string) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) { // merged spellings in a fixed order
		ck := textproto.CanonicalMIMEHeaderKey(k)
		out[ck] = append(out[ck], h[k]...)
	}
	return out
}

// validate is Validate with the runner's minimum interval.
func validate(def rpc.CheckDefinition, minInterval time.Duration) error {
	v := validator{check: label(def)}
	v.name("name", def.Name, true)
	if def.ID != "" {
		v.name("id", def.ID, false)
		if strings.HasPrefix(def.ID, reservedIDPrefix) {
			v.fail("id", "the %q prefix is reserved for Meridian's own checks", reservedIDPrefix)
		}
	}
	if def.ServiceID != "" {
		v.name("service_id", def.ServiceID, false)
	}
	switch def.Kind {
	case rpc.CheckHTTP, rpc.CheckTCP, rpc.CheckTTL, rpc.CheckWASM:
	case "":
		v.fail("kind", "is missing; want one of http, tcp, ttl, wasm")
	default:
		v.fail("kind", "%q is not one of http, tcp, ttl, wasm", clip(def.Kind))
	}
	if len(def.Notes) > maxNotesBytes {
		v.fail("notes", "%d bytes is over the maximum of %d", len(def.Notes), maxNotesBytes)
	}
	if v.err != nil {
		return v.err
	}

	// Fields of the periodic kinds.
	if periodic(def.Kind) {
		v.duration("interval", def.Interval.Std(), minInterval, maxInterval)
		if t := def.Timeout.Std(); t < 0 {
			v.fail("timeout", "%s must not be negative", t)
		} else if t > maxTimeout {
			v.fail("timeout", "%s is over the maximum of %s", t, maxTimeout)
		}
		v.nonNegative("success_before_passing", def.SuccessBeforePassing)
		v.nonNegative("failures_before_critical", def.FailuresBeforeCritical)
	} else {
		v.unused("interval", def.Interval != 0, def.Kind)
		v.unused("timeout", def.Timeout != 0, def.Kind)
		v.unused("success_before_passing", def.SuccessBeforePassing != 0, def.Kind)
		v.unused("failures_before_critical", def.FailuresBeforeCritical != 0, def.Kind)
	}

	// Fields of one kind each.
	if def.Kind == rpc.CheckHTTP {
		v.httpURL(def.HTTP)
		v.method(def.Method)
		v.header(def.Header)
		if len(def.Body) > maxBodyBytes {
			v.fail("body", "%d bytes is over the maximum of %d", len(def.Body), maxBodyBytes)
		}
	} else {
		v.unused("http", def.HTTP != "", def.Kind)
		v.unused("method", def.Method != "", def.Kind)
		v.unused("header", len(def.Header) != 0, def.Kind)
		v.unused("body", def.Body != "", def.Kind)
		v.unused("tls_skip_verify", def.TLSSkipVerify, def.Kind)
	}
	if def.Kind == rpc.CheckTCP {
		v.hostPort(def.TCP)
	} else {
		v.unused("tcp", def.TCP != "", def.Kind)
	}
	if def.Kind == rpc.CheckTTL {
		v.duration("ttl", def.TTL.Std(), minInterval, maxTTL)
	} else {
		v.unused("ttl", def.TTL != 0, def.Kind)
	}
	if def.Kind == rpc.CheckWASM {
		v.moduleRef(def.Module)
		v.args(def.Args)
		v.grants(def.Grants)
		if def.MemoryPages > wasmCaps.MemoryPages {
			v.fail("memory_pages", "%d is over the maximum of %d (%d MiB)", def.MemoryPages, wasmCaps.MemoryPages, wasmCaps.MemoryPages>>4)
		}
		if n := def.MaxNetworkBytes; n < 0 {
			v.fail("max_network_bytes", "%d must not be negative", n)
		} else if n > wasmCaps.MaxNetworkBytes {
			v.fail("max_network_bytes", "%d is over the maximum of %d", n, wasmCaps.MaxNetworkBytes)
		}
	} else {
		v.unused("module", def.Module != "", def.Kind)
		v.unused("args", len(def.Args) != 0, def.Kind)
		v.unused("grants", len(def.Grants) != 0, def.Kind)
		v.unused("memory_pages", def.MemoryPages != 0, def.Kind)
		v.unused("max_network_bytes", def.MaxNetworkBytes != 0, def.Kind)
	}

	switch def.Status {
	case "", rpc.HealthPassing, rpc.HealthWarning, rpc.HealthCritical:
	default:
		v.fail("status", "%q is not one of passing, warning, critical", clip(def.Status))
	}
	if d := def.DeregisterCriticalAfter.Std(); d < 0 {
		v.fail("deregister_critical_after", "%s must not be negative", d)
	} else if d > 0 && d < minDeregister {
		v.fail("deregister_critical_after", "%s is under the minimum of %s", d, minDeregister)
	}
	return v.err
}

// validator keeps the first problem found.
type validator struct {
	check string
	err   error
}

func (v *validator) fail(field, format string, args ...any) {
	if v.err == nil {
		v.err = &FieldError{Check: v.check, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
}

// name checks a name or ID: printable UTF-8 of bounded size; IDs may not
// hold "/" (rpc.ValidateName's rule).
func (v *validator) name(field, s string, slashOK bool) {
	max := maxIDBytes
	if field == "name" {
		max = maxNameBytes
	}
	switch {
	case s == "":
		v.fail(field, "is missing")
	case len(s) > max:
		v.fail(field, "%d bytes is over the maximum of %d", len(s), max)
	case !utf8.ValidString(s):
		v.fail(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			v.fail(field, "%q holds a control character", clip(s))
			return
		}
		if r == '/' && !slashOK {
			v.fail(field, "%q holds a \"/\"", clip(s))
			return
		}
	}
}

func (v *validator) duration(field string, d, lo, hi time.Duration) {
	switch {
	case d == 0:
		v.fail(field, "is missing")
	case d < 0:
		v.fail(field, "%s must not be negative", d)
	case d < lo:
		v.fail(field, "%s is under the minimum of %s", d, lo)
	case d > hi:
		v.fail(field, "%s is over the maximum of %s", d, hi)
	}
}

func (v *validator) nonNegative(field string, n int) {
	if n < 0 {
		v.fail(field, "%d must not be negative", n)
	}
}

func (v *validator) unused(field string, set bool, kind string) {
	if set {
		v.fail(field, "is not used by %s checks", kind)
	}
}

func (v *validator) httpURL(s string) {
	if s == "" {
		v.fail("http", "is missing; want an http:// or https:// URL")
		return
	}
	if len(s) > maxURLBytes {
		v.fail("http", "%d bytes is over the maximum of %d", len(s), maxURLBytes)
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.fail("http", "%q is not a URL", clip(s))
	case u.Scheme != "http" && u.Scheme != "https":
		v.fail("http", "%q is not an http:// or https:// URL", clip(s))
	case u.Host == "":
		v.fail("http", "%q has no host", clip(s))
	}
}

func (v *validator) method(m string) {
	if m == "" {
		return // GET
	}
	if len(m) > maxMethodBytes || !isToken(m) {
		v.fail("method", "%q is not an HTTP method", clip(m))
	}
}

func (v *validator) header(h map[string][]string) {
	count, size := 0, 0
	for k, vs := range h {
		if !isToken(k) {
			v.fail("header", "%q is not a valid header name", clip(k))
			return
		}
		for _, val := range vs {
			if !validHeaderValue(val) {
				v.fail("header", "the value of %q holds a control character", clip(k))
				return
			}
			count++
			size += len(k) + len(val)
		}
	}
	if count > maxHeaderCount {
		v.fail("header", "%d values is over the maximum of %d", count, maxHeaderCount)
	} else if size > maxHeaderBytes {
		v.fail("header", "%d bytes is over the maximum of %d", size, maxHeaderBytes)
	}
}

func (v *validator) hostPort(s string) {
	if s == "" {
		v.fail("tcp", "is missing; want host:port")
		return
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || len(s) > maxURLBytes {
		v.fail("tcp", "%q is not host:port", clip(s))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.fail("tcp", "%q: the port must be a number from 1 to 65535", clip(s))
	}
}

// moduleRef checks a wasm check's module: a digest (64 hex digits) or a
// name. A digest has the form of a name, so one rule covers both; "." and
// ".." are refused because an edge may keep modules in files named so.
func (v *validator) moduleRef(ref string) {
	switch {
	case ref == "":
		v.fail("module", "is missing; want a module digest or name")
		return
	case len(ref) > maxModuleRef:
		v.fail("module", "%d bytes is over the maximum of %d", len(ref), maxModuleRef)
		return
	case ref == "." || ref == "..":
		v.fail("module", "%q is not a module name", ref)
		return
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			v.fail("module", "%q is not a module digest or name (letters, digits, '-', '_', '.')", clip(ref))
			return
		}
	}
}

func (v *validator) args(a json.RawMessage) {
	switch {
	case len(a) == 0:
	case len(a) > maxArgsBytes:
		v.fail("args", "%d bytes is over the maximum of %d", len(a), maxArgsBytes)
	case !json.Valid(a):
		v.fail("args", "is not valid JSON")
	}
}

func (v *validator) grants(gs []string) {
	if len(gs) > maxGrants {
		v.fail("grants", "%d grants is over the maximum of %d", len(gs), maxGrants)
		return
	}
	for i, g := range gs {
		field := "grants[" + strconv.Itoa(i) + "]"
		if len(g) > maxGrantBytes {
			v.fail(field, "%d bytes is over the maximum of %d", len(g), maxGrantBytes)
			return
		}
		if err := wasm.ValidateGrants([]string{g}); err != nil {
			// `wasm: grant "<g>": why`, with g clipped as the other fields'
			// values are.
			msg := strings.TrimPrefix(err.Error(), "wasm: ")
			if why, ok := strings.CutPrefix(msg, fmt.Sprintf("grant %q: ", g)); ok {
				msg = fmt.Sprintf("%q: %s", clip(g), why)
			}
			v.fail(field, "%s", msg)
			return
		}
	}
}

// isToken reports whether s is an RFC 9110 token (a method or header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// label names the check in errors: its ID, else its name, clipped.
func label(def rpc.CheckDefinition) string {
	if def.ID != "" {
		return clip(def.ID)
	}
	return clip(def.Name)
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
