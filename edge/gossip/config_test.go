package gossip

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.Name = "n1"
		c.Meta.Role = RoleEdge
		return c
	}
	huge := valid()
	huge.Meta.Tags = map[string]string{"blob": strings.Repeat("x", 500)}
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string // substring; "" means valid
	}{
		{"default with name and role", func(*Config) {}, ""},
		{"all profiles: wan", func(c *Config) { c.Profile = ProfileWAN }, ""},
		{"all profiles: local", func(c *Config) { c.Profile = ProfileLocal }, ""},
		{"server", func(c *Config) { c.Meta = Meta{Role: RoleServer, DC: "dc2", RaftAddr: "10.0.0.1:8300", Expect: 3} }, ""},
		{"ipv6 and advertise", func(c *Config) { c.BindAddr = "[::1]:7301"; c.AdvertiseAddr = "10.1.2.3:0" }, ""},
		{"key 32 bytes, label, join", func(c *Config) {
			c.SecretKey = make([]byte, 32)
			c.Label = "meridian-lan-dc1"
			c.Join = []string{"10.0.0.1:7301"}
		}, ""},
		{"missing name", func(c *Config) { c.Name = "" }, "name is required"},
		{"empty profile", func(c *Config) { c.Profile = "" }, `profile ""`},
		{"bad profile", func(c *Config) { c.Profile = "LAN" }, `profile "LAN"`},
		{"bind without port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "bind address"},
		{"bind to a name", func(c *Config) { c.BindAddr = "localhost:7301" }, "not an IP address"},
		{"bind port too large", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, "bad port"},
		{"advertise a name", func(c *Config) { c.AdvertiseAddr = "example.com:7301" }, "advertise address"},
		{"advertise port with bind port 0", func(c *Config) {
			c.BindAddr = "127.0.0.1:0"
			c.AdvertiseAddr = "10.0.0.1:7301"
		}, "needs a fixed bind port"},
		{"label too long", func(c *Config) { c.Label = strings.Repeat("l", 256) }, "label is 256 bytes"},
		{"key of 10 bytes", func(c *Config) { c.SecretKey = make([]byte, 10) }, "secret key is 10 bytes"},
		{"empty join address", func(c *Config) { c.Join = []string{"10.0.0.1:7301", ""} }, "empty join address"},
		{"no role", func(c *Config) { c.Meta.Role = "" }, `meta role ""`},
		{"unknown role", func(c *Config) { c.Meta.Role = "client" }, `meta role "client"`},
		{"no dc", func(c *Config) { c.Meta.DC = "" }, "meta dc is required"},
		{"edge with raft", func(c *Config) { c.Meta.RaftAddr = "10.0.0.1:8300" }, "servers only"},
		{"negative expect", func(c *Config) { c.Meta.Role = RoleServer; c.Meta.Expect = -1 }, "negative"},
		{"meta too large", func(c *Config) { *c = huge }, "node metadata too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate = %v, not ErrInvalidConfig", err)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Profile != ProfileLAN || c.BindAddr != "127.0.0.1:7301" || c.Meta.DC != "dc1" {
		t.Errorf("DefaultConfig = %+v", c)
	}
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("DefaultConfig without a name validates: %v", err)
	}
}

func TestMemberlistConfig(t *testing.T) {
	for _, tc := range []struct {
		profile       string
		probeInterval string
	}{
		{ProfileLAN, "1s"},
		{ProfileWAN, "5s"},
		{ProfileLocal, "1s"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			c := DefaultConfig()
			c.Name, c.Meta.Role, c.Profile = "n", RoleEdge, tc.profile
			c.AdvertiseAddr = "10.0.0.9:0"
			mc := c.memberlistConfig()
			if mc.Name != "n" || mc.BindAddr != "127.0.0.1" || mc.BindPort != 7301 {
				t.Errorf("bind: %s %s:%d", mc.Name, mc.BindAddr, mc.BindPort)
			}
			if mc.AdvertiseAddr != "10.0.0.9" || mc.AdvertisePort != 7301 {
				t.Errorf("advertise: %s:%d", mc.AdvertiseAddr, mc.AdvertisePort)
			}
			if got := mc.ProbeInterval.String(); got != tc.probeInterval {
				t.Errorf("probe interval %s, want %s", got, tc.probeInterval)
			}
		})
	}
}

func TestNewMetaTooLarge(t *testing.T) {
	cfg := testConfig(t, "big", RoleEdge)
	cfg.Meta.Tags["blob"] = strings.Repeat("x", 600)
	p, err := New(cfg)
	if err == nil {
		p.Close()
		t.Fatal("New accepted oversized metadata")
	}
	if !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "limit is 512") {
		t.Fatalf("New = %v", err)
	}
	t.Logf("error: %v", err)
}
