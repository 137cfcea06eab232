package dns

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"meridian/rpc"
)

// Defaults of Config; the Consul equivalents are named where there is one.
const (
	DefaultAddr            = "127.0.0.1:7600"
	DefaultDomain          = "meridian."
	DefaultDC              = "dc1"
	DefaultRecursorTimeout = 2 * time.Second // Consul's recursor_timeout
	DefaultStaleBound      = time.Minute
	DefaultFetchTimeout    = 2 * time.Second
	DefaultMaxEntries      = 4096
	DefaultIdleTimeout     = 5 * time.Minute
)

// Config configures a Server. Build one with DefaultConfig and set
// Servers (and DC, Domain, Addr as the agent's flags say). New fills the
// zero value of a duration, a limit, Addr, Domain, DC, Logger and Clock
// with its default, so a zero field means "the default" everywhere except
// where the field says otherwise (TTLs: 0 is a real TTL).
type Config struct {
	// Addr is the host:port to serve on, UDP and TCP on the same port.
	// Port 0 picks a free port; Server.Addr tells which.
	Addr string
	// Domain is the zone answered, "meridian." by default. Matching is
	// case-insensitive and the trailing dot optional; "consul." makes
	// Meridian answer the names programs already use for Consul.
	Domain string
	// DC is the local datacenter: names without a datacenter label mean
	// it, and answer names (SRV targets) carry it.
	DC string
	// Servers reaches the catalog: an edge's forwarding transport, or a
	// server's own *rpc.Server. Required.
	Servers rpc.Transport

	// DefaultTTL is the TTL of service answers (0 by default, as Consul's
	// service_ttl); ServiceTTL overrides it per service name (case
	// insensitive), and a key ending in "*" matches names by prefix, the
	// longest prefix winning (as Consul's service_ttl).
	DefaultTTL time.Duration
	ServiceTTL map[string]time.Duration
	// NodeTTL is the TTL of node and addr answers (0, Consul's node_ttl).
	NodeTTL time.Duration
	// NegativeTTL is the TTL of the SOA record on negative answers and its
	// minimum field, which resolvers use to cache the negative answer (0,
	// Consul's soa.min_ttl).
	NegativeTTL time.Duration
	// OnlyPassing leaves out instances with a warning check too. Instances
	// with a critical check, their node's included, are always left out.
	OnlyPassing bool
	// ARecordLimit is the most A and AAAA records in one answer; 0 means
	// no limit (Consul's a_record_limit). SRV answers are not limited.
	ARecordLimit int
	// DisableNodeMetaTXT leaves the node's meta out of node answers
	// (Consul's enable_additional_node_meta_txt = false). By default an A
	// or AAAA answer for a node carries its meta as TXT records in the
	// additional section; a TXT question always gets them.
	DisableNodeMetaTXT bool
	// Recursors are resolvers ("host:port", port 53 if left out) that
	// names outside Domain are forwarded to, tried in order, each for
	// RecursorTimeout. Without recursors those names are REFUSED.
	Recursors       []string
	RecursorTimeout time.Duration

	// StaleBound is how old cached data may get before a query waits for a
	// refetch. An entry's age is the time since the servers last answered
	// for it; its watch returns at least every StaleBound/2 (capped at 5
	// minutes, Consul's default blocking wait), so entries only
	// pass the bound when the servers cannot be reached, and then queries
	// are answered from the cache (Stats.StaleAnswers, and a warning in
	// the log) once a refetch has failed.
	StaleBound time.Duration
	// FetchTimeout bounds how long a query waits for the servers: the
	// first fetch of a name, or a refetch past StaleBound.
	FetchTimeout time.Duration
	// MaxEntries bounds the cached answers (services, service and tag
	// pairs, node lists); the least recently asked is dropped first.
	MaxEntries int
	// IdleTimeout: an entry nobody asked about for this long stops
	// watching and is dropped.
	IdleTimeout time.Duration

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Clock tells the time for cache ages and idleness; time.Now if nil.
	// Tests move it to age entries.
	Clock func() time.Time
}

// DefaultConfig returns the configuration of an agent's DNS interface:
// 127.0.0.1:7600, domain meridian., datacenter dc1, TTLs 0, warning
// instances included, no recursors. Servers is left to the caller.
func DefaultConfig() Config {
	return Config{
		Addr:            DefaultAddr,
		Domain:          DefaultDomain,
		DC:              DefaultDC,
		RecursorTimeout: DefaultRecursorTimeout,
		StaleBound:      DefaultStaleBound,
		FetchTimeout:    DefaultFetchTimeout,
		MaxEntries:      DefaultMaxEntries,
		IdleTimeout:     DefaultIdleTimeout,
	}
}

// withDefaults returns a deep copy of c with zero fields defaulted.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Domain == "" {
		c.Domain = d.Domain
	}
	if c.DC == "" {
		c.DC = d.DC
	}
	if c.RecursorTimeout == 0 {
		c.RecursorTimeout = d.RecursorTimeout
	}
	if c.StaleBound == 0 {
		c.StaleBound = d.StaleBound
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = d.FetchTimeout
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = d.MaxEntries
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.ServiceTTL = maps.Clone(c.ServiceTTL)
	c.Recursors = slices.Clone(c.Recursors)
	return c
}

const maxTTL = time.Duration(math.MaxInt32) * time.Second // RFC 2181 section 8

// Validate checks c as New would use it (zero fields defaulted); errors
// wrap ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Servers == nil {
		return bad("Servers is required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return bad("Addr %q: %v", c.Addr, err)
	}
	if _, ok := mdns.IsDomainName(mdns.Fqdn(c.Domain)); !ok || mdns.Fqdn(c.Domain) == "." {
		return bad("Domain %q is not a domain name", c.Domain)
	}
	if !isLabel(c.DC) {
		return bad("DC %q is not one DNS label (letters, digits, '-', '_')", c.DC)
	}
	for name, ttl := range map[string]time.Duration{"DefaultTTL": c.DefaultTTL, "NodeTTL": c.NodeTTL, "NegativeTTL": c.NegativeTTL} {
		if ttl < 0 || ttl > maxTTL {
			return bad("%s %v is out of 0..%v", name, ttl, maxTTL)
		}
	}
	for name, ttl := range c.ServiceTTL {
		if name == "" || ttl < 0 || ttl > maxTTL {
			return bad("ServiceTTL[%q] = %v: want a name and a TTL in 0..%v", name, ttl, maxTTL)
		}
	}
	if c.ARecordLimit < 0 {
		return bad("ARecordLimit %d is negative", c.ARecordLimit)
	}
	for _, r := range c.Recursors {
		if _, err := recursorAddr(r); err != nil {
			return bad("recursor %q: %v", r, err)
		}
	}
	for name, d := range map[string]time.Duration{"RecursorTimeout": c.RecursorTimeout, "StaleBound": c.StaleBound,
		"FetchTimeout": c.FetchTimeout, "IdleTimeout": c.IdleTimeout} {
		if d < 0 {
			return bad("%s %v is negative", name, d)
		}
	}
	if c.MaxEntries < 0 {
		return bad("MaxEntries %d is negative", c.MaxEntries)
	}
	return nil
}

// recursorAddr returns r with port 53 added when it has none.
func recursorAddr(r string) (string, error) {
	if ip := net.ParseIP(strings.Trim(r, "[]")); ip != nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil {
		return "", err
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("want host:port")
	}
	return r, nil
}

// isLabel reports whether s is one DNS label of letters, digits, '-' and
// '_', usable as is in a name.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
