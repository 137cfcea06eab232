package dns

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Servers = unreachable{}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"zero values take the defaults", func(c *Config) { *c = Config{Servers: unreachable{}} }, true},
		{"domain without the dot", func(c *Config) { c.Domain = "consul" }, true},
		{"two-label domain", func(c *Config) { c.Domain = "sd.example.com." }, true},
		{"recursor without a port", func(c *Config) { c.Recursors = []string{"10.0.0.1", "[::1]:53"} }, true},
		{"no servers", func(c *Config) { c.Servers = nil }, false},
		{"bad address", func(c *Config) { c.Addr = "localhost" }, false},
		{"root domain", func(c *Config) { c.Domain = "." }, false},
		{"dc with a dot", func(c *Config) { c.DC = "us.east" }, false},
		{"negative TTL", func(c *Config) { c.NodeTTL = -time.Second }, false},
		{"TTL over 2^31 s", func(c *Config) { c.DefaultTTL = 100 * 365 * 24 * time.Hour }, false},
		{"service TTL without a name", func(c *Config) { c.ServiceTTL = map[string]time.Duration{"": time.Second} }, false},
		{"negative A record limit", func(c *Config) { c.ARecordLimit = -1 }, false},
		{"recursor not host:port", func(c *Config) { c.Recursors = []string{"ns1.example.com:"} }, false},
		{"negative stale bound", func(c *Config) { c.StaleBound = -1 }, false},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if _, nerr := New(c); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New() = %v, Validate() = %v", tc.name, nerr, err)
		}
	}
}

func TestConfigIsCopied(t *testing.T) {
	c := DefaultConfig()
	c.Servers = unreachable{}
	c.ServiceTTL = map[string]time.Duration{"web": time.Second}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.ServiceTTL["web"] = time.Hour
	if ttl := s.serviceTTL("web"); ttl != 1 {
		t.Fatalf("TTL %d after the caller changed its map, want 1", ttl)
	}
}
