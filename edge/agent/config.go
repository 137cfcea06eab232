package agent

import (
	"errors"
	"log/slog"
	"time"

	"meridian/checks"
	"meridian/rpc"
)

// Config of an Agent.
type Config struct {
	Node string
	DC   string
	Role string // "edge", "server" or "dev", as agent.self reports it
	// Address is the node's address in the catalog, where its services
	// are reached unless they name their own.
	Address string
	// NodeMeta is registered with the node.
	NodeMeta map[string]string
	// Servers carries catalog writes and forwarded calls: an rpc.Client
	// whose addresses follow gossip on an edge, the in-process rpc.Server
	// on a server.
	Servers rpc.Transport
	// ServerAddrs lists the servers calls go to, for agent.self.
	ServerAddrs func() []string
	// Members lists the gossip pool for agent.members (wan selects the
	// WAN pool); nil answers an empty list.
	Members func(wan bool) []rpc.Member
	// ConfigDir holds service definition files (*.json), read at start.
	ConfigDir string
	// DataDir, if set, keeps the services and checks registered through
	// the API across restarts (DataDir/agent-services.json).
	DataDir string
	// SyncInterval is the period of the full sync (jittered by up to a
	// quarter); RetryInterval the wait after a failed push.
	SyncInterval  time.Duration
	RetryInterval time.Duration
	// BatchDelay gathers status changes that come close together into one
	// write.
	BatchDelay time.Duration
	// ReapInterval is how often services whose checks have been critical
	// longer than their deregister_critical_after are removed.
	ReapInterval time.Duration
	// Checks configures the check runner (Notify is the agent's).
	Checks  checks.Config
	Version string
	Logger  *slog.Logger
}

// DefaultConfig returns the production settings: a full sync every
// minute, status changes batched over 50 ms, the reaper every 30 s (as
// Consul's).
func DefaultConfig() Config {
	return Config{
		DC:            "dc1",
		Role:          "edge",
		SyncInterval:  time.Minute,
		RetryInterval: 2 * time.Second,
		BatchDelay:    50 * time.Millisecond,
		ReapInterval:  30 * time.Second,
		Checks:        checks.DefaultConfig(),
	}
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("agent: a node name is required")
	case c.Servers == nil:
		return errors.New("agent: Servers is required")
	case c.SyncInterval <= 0 || c.RetryInterval <= 0 || c.BatchDelay < 0 || c.ReapInterval <= 0:
		return errors.New("agent: SyncInterval, RetryInterval and ReapInterval must be positive, BatchDelay not negative")
	}
	return rpc.ValidateName("node", c.Node)
}
