package gossip

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Profiles select memberlist's timings.
const (
	ProfileLAN   = "lan"   // memberlist.DefaultLANConfig: probe every 1 s, gossip every 200 ms
	ProfileWAN   = "wan"   // memberlist.DefaultWANConfig: probe every 5 s, gossip every 500 ms
	ProfileLocal = "local" // memberlist.DefaultLocalConfig: loopback and tests
)

// Config configures a Pool. Build one with DefaultConfig and set Name and
// Meta at least.
type Config struct {
	// Name is the node name, unique in the pool (required).
	Name string
	// BindAddr is the host:port to listen on, UDP and TCP. The host must be
	// an IP address; port 0 picks a free port (see Pool.Addr).
	BindAddr string
	// AdvertiseAddr is the host:port others reach this member at, if not
	// BindAddr (NAT). The host must be an IP address; port 0 means the bound
	// port, and must be 0 when BindAddr's port is 0 (memberlist replaces it).
	AdvertiseAddr string
	// Meta is gossiped to the other members; see Pool.UpdateMeta.
	Meta Meta
	// Profile is one of ProfileLAN, ProfileWAN and ProfileLocal.
	Profile string
	// Label keeps pools apart: members only talk to members with the same
	// label, e.g. "meridian-lan-dc1".
	Label string
	// SecretKey, if set, encrypts gossip (AES; 16, 24 or 32 bytes).
	SecretKey []byte
	// Join lists members to join (host:port; without a port, this member's
	// own port is assumed). New retries in the background with exponential
	// backoff until one join succeeds; see Pool.Joined.
	Join []string
	// Rejoin, if above 0, joins the Join addresses again about that often
	// once the first join succeeded, so that a split pool heals (servers
	// do it on the WAN pool).
	Rejoin time.Duration
	// Events, if set, receives membership changes in order, from one
	// goroutine owned by the pool, including those of the local member. It
	// must not block long and must not call Leave or Close.
	Events func(Event)
	// Logger receives the pool's logs and memberlist's, whose INFO lines are
	// demoted to debug. Nil discards them.
	Logger *slog.Logger

	// tune, if set, adjusts memberlist's configuration: for tests.
	tune func(*memberlist.Config)
}

// DefaultConfig returns a LAN configuration listening on 127.0.0.1:7301, in
// datacenter "dc1". Name and Meta.Role are left to the caller.
func DefaultConfig() Config {
	return Config{
		BindAddr: "127.0.0.1:7301",
		Profile:  ProfileLAN,
		Meta:     Meta{DC: "dc1"},
	}
}

// Validate checks c; errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: name is required", ErrInvalidConfig)
	}
	if !slices.Contains([]string{ProfileLAN, ProfileWAN, ProfileLocal}, c.Profile) {
		return fmt.Errorf("%w: profile %q, want %q, %q or %q", ErrInvalidConfig, c.Profile, ProfileLAN, ProfileWAN, ProfileLocal)
	}
	_, bindPort, err := splitIPPort(c.BindAddr)
	if err != nil {
		return fmt.Errorf("%w: bind address: %w", ErrInvalidConfig, err)
	}
	if c.AdvertiseAddr != "" {
		_, advPort, err := splitIPPort(c.AdvertiseAddr)
		if err != nil {
			return fmt.Errorf("%w: advertise address: %w", ErrInvalidConfig, err)
		}
		if bindPort == 0 && advPort != 0 {
			return fmt.Errorf("%w: advertise port %d needs a fixed bind port", ErrInvalidConfig, advPort)
		}
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		return fmt.Errorf("%w: label is %d bytes, limit is %d", ErrInvalidConfig, len(c.Label), memberlist.LabelMaxSize)
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("%w: secret key is %d bytes, want 16, 24 or 32", ErrInvalidConfig, len(c.SecretKey))
	}
	if slices.Contains(c.Join, "") {
		return fmt.Errorf("%w: empty join address", ErrInvalidConfig)
	}
	_, err = c.Meta.validate()
	return err
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	c.Meta = c.Meta.clone()
	c.SecretKey = slices.Clone(c.SecretKey)
	c.Join = slices.Clone(c.Join)
	return c
}

// PushPullInterval is how often a member exchanges its whole state with
// another under c's profile, before memberlist scales it up for large
// pools.
func (c Config) PushPullInterval() time.Duration {
	return c.memberlistConfig().PushPullInterval
}

// memberlistConfig builds memberlist's configuration for a valid c, without
// delegates and logger.
func (c Config) memberlistConfig() *memberlist.Config {
	var mc *memberlist.Config
	switch c.Profile {
	case ProfileWAN:
		mc = memberlist.DefaultWANConfig()
	case ProfileLocal:
		mc = memberlist.DefaultLocalConfig()
	default:
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = c.Name
	mc.BindAddr, mc.BindPort, _ = splitIPPort(c.BindAddr)
	mc.AdvertiseAddr, mc.AdvertisePort = "", mc.BindPort
	if c.AdvertiseAddr != "" {
		host, port, _ := splitIPPort(c.AdvertiseAddr)
		mc.AdvertiseAddr = host
		if port != 0 {
			mc.AdvertisePort = port
		}
	}
	mc.Label = c.Label
	mc.SecretKey = slices.Clone(c.SecretKey)
	return mc
}

// splitIPPort splits "ip:port"; memberlist wants IP addresses, not names.
func splitIPPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q is not an IP address", host)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, int(port), nil
}
